// The network layer under DicomDestination: how its DCMTK associations get
// their sockets and timeouts, and how DCMTK's network errors read. Kept apart
// from DicomDestination.cpp, which decides what is negotiated and sent,
// because this is about TCP and DCMTK's hooks, not about DICOM: a change here
// changes how every byte travels, not what travels.
//
// - QuickAckConnection: the TCP connection of one association (quick ACKs,
//   a millisecond read poll).
// - DicomTransportLayer: DCMTK's factory for those connections; it sets
//   TCP_NODELAY and the send timeout on each socket right after connect().
// - DicomScu: DcmSCU with the hook that installs that layer and access to
//   the negotiated transfer syntaxes.
// - configureScu(): the peer, AE titles and timeouts of a destination on an
//   SCU, with DIMSE in non-blocking mode so a dead peer cannot hang a worker.
// - conditionText(): what DCMTK says went wrong, in one line for the
//   operator's detail text.
//
// Thread safety: a connection belongs to its association and a transport
// layer to one DicomDestination, both used by one delivery worker at a time.
// configureScu() sets one DCMTK process-wide value (see DicomTransport.cpp).
#pragma once

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmnet/dcmlayer.h>
#include <dcmtk/dcmnet/dcmtrans.h>
#include <dcmtk/dcmnet/scu.h>

#include <chrono>
#include <string>

#include "plugins/core/destinations/dicom/DicomKind.h"

namespace router {

// A plain TCP connection that acknowledges at once what it receives. A peer
// whose own stack keeps Nagle on (DCMTK-based PACS by default) writes a PDU
// in pieces and waits for our ACK of the first before sending the rest; with
// Linux's delayed ACK that is ~40 ms per C-STORE response. TCP_QUICKACK is
// not sticky (the kernel drops back to delayed ACKs), so it is set again
// around every read and write.
class QuickAckConnection : public DcmTCPConnection {
 public:
  explicit QuickAckConnection(DcmNativeSocketType socket);

  // True when the peer sent something within `timeout` (a storage
  // commitment report, or the end of the association). DCMTK's own checks
  // take whole seconds; this one takes milliseconds.
  bool readable(std::chrono::milliseconds timeout);

  ssize_t read(void* buffer, size_t size) override;
  ssize_t write(void* buffer, size_t size) override;
  OFBool networkDataAvailable(int timeout) override;

 private:
  void quickAck();
};

// Creates our TCP connections: TCP_NODELAY, a send timeout, quick ACKs.
// DCMTK 3.6.7 disables Nagle only when the environment has TCP_NODELAY=1 (a
// process-wide setenv, racy once threads run, and it changes Orthanc's own
// sockets too). The transport layer factory is DCMTK's hook for the socket
// right after connect(). DcmSCU installs a custom layer only through
// useSecureConnection(), which also flags the association "secure"; that flag
// only reaches createConnection(), which ignores it (no TLS here).
class DicomTransportLayer : public DcmTransportLayer {
 public:
  explicit DicomTransportLayer(int sendTimeoutSeconds) : sendTimeoutSeconds_(sendTimeoutSeconds) {}

  DcmTransportConnection* createConnection(DcmNativeSocketType socket, OFBool /*useSecureLayer*/) override;

  // The connection made last (owned by its association).
  QuickAckConnection* last() const { return last_; }

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
