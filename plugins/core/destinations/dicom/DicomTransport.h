// The network layer under DicomDestination: how its DCMTK associations get
// their sockets and timeouts, and how DCMTK's network errors read. Kept apart
// from DicomDestination.cpp, which decides what is negotiated and sent,
// because this is about TCP and DCMTK's hooks, not about DICOM: a change here
// changes how every byte travels, not what travels.
//
// - AssociationTransport: what DicomDestination needs of the layer under its
//   associations, plain (here) or TLS (DicomTls.h): DCMTK's layer, the last
//   connection made, and why the last TLS handshake failed.
// - QuickAckConnection: the TCP connection of one association (quick ACKs,
//   a millisecond read poll).
// - DicomTransportLayer: DCMTK's factory for those connections; it sets
//   TCP_NODELAY and the send timeout on each socket right after connect().
// - makeTransport(): the plain or the TLS layer, as the destination says.
// - DicomScu: DcmSCU with the hook that installs that layer and access to
//   the negotiated transfer syntaxes.
// - configureScu(): the peer, AE titles and timeouts of a destination on an
//   SCU, with DIMSE in non-blocking mode so a dead peer cannot hang a worker.
// - conditionText(): what DCMTK says went wrong, in one line for the
//   operator's detail text.
//
// Thread safety: a connection belongs to its association and a transport
// layer to one DicomDestination, both used by one delivery worker at a time
// (each DicomDestination has its own layer, TLS context included).
// configureScu() sets one DCMTK process-wide value (see DicomTransport.cpp).
#pragma once

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmnet/dcmlayer.h>
#include <dcmtk/dcmnet/dcmtrans.h>
#include <dcmtk/dcmnet/scu.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "plugins/core/destinations/dicom/DicomKind.h"

namespace router {

// The connection under an open association, as DicomDestination polls it
// while it waits for a storage commitment report.
class PolledConnection {
 public:
  virtual ~PolledConnection() = default;
  // True when the peer sent something within `timeout` (a storage
  // commitment report, or the end of the association). DCMTK's own checks
  // take whole seconds; this one takes milliseconds.
  virtual bool readable(std::chrono::milliseconds timeout) = 0;
};

// Why a TLS handshake failed, classified where OpenSSL says it.
struct TlsFailure {
  // A certificate was refused (theirs by us, ours by them) or the two sides
  // share no TLS version or cipher: retrying cannot help, the configuration
  // must change. Otherwise (reset, timeout, closed) it may work later.
  bool permanent = false;
  std::string detail;  // what happened and what to check, in one line
};

// The layer under one DicomDestination's associations.
class AssociationTransport {
 public:
  virtual ~AssociationTransport() = default;
  virtual DcmTransportLayer& layer() = 0;
  // Called before each association is requested: forgets the connection and
  // the handshake failure of the one before (a refused TCP connect makes no
  // new connection, and must not report the last one's failure).
  virtual void startAssociation() = 0;
  // The connection made last (owned by its association); null before.
  virtual PolledConnection* last() const = 0;
  // After a failed negotiation: the failure of that connection's TLS
  // handshake, if it had one and it failed. Always empty for plain TCP.
  virtual std::optional<TlsFailure> handshakeFailure() const { return std::nullopt; }
};

// Sets TCP_NODELAY and the send timeout on a freshly connected socket.
void prepareSocket(DcmNativeSocketType socket, int sendTimeoutSeconds);
// TCP_QUICKACK, again: the kernel drops back to delayed ACKs by itself.
void quickAck(DcmNativeSocketType socket);

// A plain TCP connection that acknowledges at once what it receives. A peer
// whose own stack keeps Nagle on (DCMTK-based PACS by default) writes a PDU
// in pieces and waits for our ACK of the first before sending the rest; with
// Linux's delayed ACK that is ~40 ms per C-STORE response. TCP_QUICKACK is
// not sticky (the kernel drops back to delayed ACKs), so it is set again
// around every read and write.
class QuickAckConnection : public DcmTCPConnection, public PolledConnection {
 public:
  explicit QuickAckConnection(DcmNativeSocketType socket);

  bool readable(std::chrono::milliseconds timeout) override;

  ssize_t read(void* buffer, size_t size) override;
  ssize_t write(void* buffer, size_t size) override;
  OFBool networkDataAvailable(int timeout) override;
};

// Creates our TCP connections: TCP_NODELAY, a send timeout, quick ACKs.
// DCMTK 3.6.7 disables Nagle only when the environment has TCP_NODELAY=1 (a
// process-wide setenv, racy once threads run, and it changes Orthanc's own
// sockets too). The transport layer factory is DCMTK's hook for the socket
// right after connect(). DcmSCU installs a custom layer only through
// useSecureConnection(), which also flags the association "secure"; that flag
// only reaches createConnection(), which ignores it (no TLS here).
class DicomTransportLayer : public DcmTransportLayer, public AssociationTransport {
 public:
  explicit DicomTransportLayer(int sendTimeoutSeconds) : sendTimeoutSeconds_(sendTimeoutSeconds) {}

  DcmTransportConnection* createConnection(DcmNativeSocketType socket, OFBool /*useSecureLayer*/) override;

  DcmTransportLayer& layer() override { return *this; }
  void startAssociation() override { last_ = nullptr; }
  PolledConnection* last() const override { return last_; }

 private:
  int sendTimeoutSeconds_;
  QuickAckConnection* last_ = nullptr;
};

// DcmSCU with access to the negotiation results and the transport hook.
class DicomScu : public DcmSCU {
 public:
  OFCondition useTransport(DcmTransportLayer* layer) { return useSecureConnection(layer); }

  // The transfer syntax the peer accepted on this presentation context
  // (trimmed); empty when it did not accept it.
  std::string acceptedSyntax(unsigned char contextId);
};

// The transport of a destination: TLS when its settings have a "Tls"
// section, plain TCP otherwise. `name` is the destination's, for errors.
// Throws ConfigError when the TLS layer cannot be set up.
std::unique_ptr<AssociationTransport> makeTransport(const DicomSettings& settings, const std::string& name);

// Whether DCMTK's DIMSE layer can carry a data set in this transfer syntax
// on an association. DCMTK 3.6.7 refuses, on both the sending and the
// receiving side, the syntaxes it does not know: the HTJ2K ones.
bool associationCanCarry(const std::string& transferSyntax);

// Applies a destination's peer, our AE title and its timeout (ACSE, DIMSE,
// connect; at least 1 s) to an SCU, with DIMSE in non-blocking mode.
void configureScu(DcmSCU& scu, const DicomSettings& config, const std::string& localAet);

// DCMTK's texts are "Failed to establish association" with the cause in a
// nested condition; keep the most specific line, lower-cased like the rest of
// the detail ("connection refused").
std::string conditionText(const OFCondition& cond);

}  // namespace router
