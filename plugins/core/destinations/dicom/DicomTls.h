// DICOM TLS under DicomDestination's associations, on DCMTK's dcmtls
// (DcmTLSTransportLayer, OpenSSL): one TLS context per DicomDestination
// object, set up once from the destination's "Tls" settings, and one TLS
// connection per association.
//
// What DCMTK 3.6.7 leaves out and this adds:
// - the peer's name is checked against the host we connect to (DCMTK checks
//   only the chain), and the name is sent as SNI;
// - the handshake's failure is kept with its cause (OpenSSL's verification
//   result, the TLS alert, errno), so DicomDestination can tell a refused
//   certificate (permanent: dead letter with what to check) from a reset or
//   a timeout (retry); DCMTK reduces all of them to one condition text;
// - the socket gets the same TCP_NODELAY and quick ACKs as a plain
//   association, and send and receive timeouts of the destination's Timeout
//   from the handshake on, so that a peer that accepts the TCP connection
//   but never answers the handshake cannot hold a worker for long.
//
// Thread safety: a TlsTransportLayer belongs to one DicomDestination (used by
// one delivery worker at a time); its connections to their associations.
#pragma once

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmtls/tlscond.h>
#include <dcmtk/dcmtls/tlslayer.h>
#include <dcmtk/dcmtls/tlstrans.h>

#include <chrono>
#include <optional>
#include <string>

#include "plugins/core/destinations/dicom/DicomKind.h"
#include "plugins/core/destinations/dicom/DicomTransport.h"

namespace router {

class TlsTransportLayer;

// One association's TLS connection. DcmTLSConnection owns the SSL object;
// this keeps a copy of the pointer to run the handshake and the reads itself
// and record why they failed.
class TlsConnection : public DcmTLSConnection, public PolledConnection {
 public:
  TlsConnection(DcmNativeSocketType socket, SSL* ssl, TlsTransportLayer& layer);

  OFCondition clientSideHandshake() override;
  ssize_t read(void* buffer, size_t size) override;
  ssize_t write(void* buffer, size_t size) override;
  void close() override;
  bool readable(std::chrono::milliseconds timeout) override;

 private:
  SSL* ssl_;
  TlsTransportLayer& layer_;
};

class TlsTransportLayer : public DcmTLSTransportLayer, public AssociationTransport {
 public:
  // Throws ConfigError naming the destination when DCMTK/OpenSSL refuse the
  // settings (the files were checked when the configuration was read).
  TlsTransportLayer(const DicomSettings& settings, const std::string& name);

  DcmTransportConnection* createConnection(DcmNativeSocketType socket,
                                           OFBool useSecureLayer) override;

  DcmTransportLayer& layer() override { return *this; }
  void startAssociation() override;
  PolledConnection* last() const override { return last_; }
  std::optional<TlsFailure> handshakeFailure() const override { return failure_; }

  // Called by the connection when its handshake (or a read during it, with
  // TLS 1.3 the server's verdict on our certificate comes then) fails.
  // Reads the OpenSSL error queue and the connection's verification result.
  void recordFailure(SSL* ssl, int sslError, int savedErrno);

 private:
  std::string peer_;  // "destination pacs (PACS 10.0.0.5:2762)"
  std::string host_;
  TlsSettings tls_;
  TlsProfile profile_;
  int timeoutSeconds_;
  TlsConnection* last_ = nullptr;
  std::optional<TlsFailure> failure_;
  bool handshaking_ = false;  // the last connection has not finished its first exchange
  friend class TlsConnection;
};

}  // namespace router
