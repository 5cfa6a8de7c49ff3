// DicomTransport: sockets and timeouts of DicomDestination's associations
// (see header).
#include "plugins/core/destinations/dicom/DicomTransport.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcxfer.h>

#include <algorithm>
#include <cctype>

#include "plugins/core/destinations/dicom/DicomTls.h"
#include "plugins/core/dicom/Uid.h"

namespace router {

void quickAck(DcmNativeSocketType socket) {
  int one = 1;
  ::setsockopt(socket, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
}

void prepareSocket(DcmNativeSocketType socket, int sendTimeoutSeconds) {
  int one = 1;
  ::setsockopt(socket, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  // Reads are bounded by DCMTK's non-blocking DIMSE mode; a peer that stops
  // reading would otherwise block write() forever.
  timeval timeout{};
  timeout.tv_sec = sendTimeoutSeconds;
  ::setsockopt(socket, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
}

QuickAckConnection::QuickAckConnection(DcmNativeSocketType socket) : DcmTCPConnection(socket) {
  quickAck(getSocket());
}

bool QuickAckConnection::readable(std::chrono::milliseconds timeout) {
  pollfd entry{};
  entry.fd = getSocket();
  entry.events = POLLIN;
  return ::poll(&entry, 1, static_cast<int>(timeout.count())) > 0;
}

ssize_t QuickAckConnection::read(void* buffer, size_t size) {
  quickAck(getSocket());
  ssize_t result = DcmTCPConnection::read(buffer, size);
  quickAck(getSocket());
  return result;
}

ssize_t QuickAckConnection::write(void* buffer, size_t size) {
  ssize_t result = DcmTCPConnection::write(buffer, size);
  quickAck(getSocket());
  return result;
}

OFBool QuickAckConnection::networkDataAvailable(int timeout) {
  quickAck(getSocket());
  return DcmTCPConnection::networkDataAvailable(timeout);
}

DcmTransportConnection* DicomTransportLayer::createConnection(DcmNativeSocketType socket,
                                                              OFBool /*useSecureLayer*/) {
  last_ = new QuickAckConnection(socket);
  // After the connection object: DCMTK's constructor sets its own send
  // timeout (dcmSocketSendTimeout, 60 s), which would replace ours.
  prepareSocket(socket, sendTimeoutSeconds_);
  return last_;
}

std::unique_ptr<AssociationTransport> makeTransport(const DicomSettings& settings, const std::string& name) {
  if (settings.tls) return std::make_unique<TlsTransportLayer>(settings, name);
  return std::make_unique<DicomTransportLayer>(static_cast<int>(std::max<long long>(1, settings.timeout.count())));
}

std::string DicomScu::acceptedSyntax(unsigned char contextId) {
  OFString abstractSyntax, transferSyntax;
  findPresentationContext(contextId, abstractSyntax, transferSyntax);
  return trimUid(transferSyntax.c_str());
}

bool associationCanCarry(const std::string& transferSyntax) {
  return DcmXfer(transferSyntax.c_str()).getXfer() != EXS_Unknown;
}

void configureScu(DcmSCU& scu, const DicomSettings& config, const std::string& localAet) {
  const auto seconds = static_cast<Uint32>(std::max<long long>(1, config.timeout.count()));
  scu.setAETitle(localAet.c_str());
  scu.setPeerAETitle(config.aet.c_str());
  scu.setPeerHostName(config.host.c_str());
  scu.setPeerPort(static_cast<Uint16>(config.port));
  scu.setACSETimeout(seconds);
  scu.setDIMSETimeout(seconds);
  scu.setDIMSEBlockingMode(DIMSE_NONBLOCKING);
  // Note: a DCMTK global (dcmConnectionTimeout), shared by every association
  // of the process; all destinations set it from their own timeout.
  scu.setConnectionTimeout(static_cast<Sint32>(seconds));
  scu.setProgressNotificationMode(OFFalse);
}

std::string conditionText(const OFCondition& cond) {
  OFString dump;
  DimseCondition::dump(dump, cond);
  std::string text = dump.c_str();
  size_t lastLine = text.find_last_of('\n');
  if (lastLine != std::string::npos) text = text.substr(lastLine + 1);
  // The dump starts with the numeric code ("0006:031c "): not for people.
  if (text.size() > 10 && text[4] == ':' && text[9] == ' ') text = text.substr(10);
  const std::string prefix = "TCP Initialization Error: ";
  if (text.compare(0, prefix.size(), prefix) == 0) text = text.substr(prefix.size());
  // "Connection refused" -> "connection refused", but "DUL ..." stays.
  if (text.size() > 1 && std::islower(static_cast<unsigned char>(text[1])))
    text[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
  return text;
}

}  // namespace router
