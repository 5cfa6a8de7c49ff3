// router-fake-scp: a scripted DICOM storage peer for the delivery fault tests
// (tests/integration/test_faults.py). Test-only, never installed.
//
// THIS IS A FAKE, on purpose. The fault tests must see the router face a peer
// that answers 0xA700 (out of resources), 0xA900 or 0xC000 on demand, that
// accepts a TCP connection and then never says a word, or that is slow to
// answer. A real part (dcmtk's storescp, a real PACS) cannot produce those
// faults when a test asks for them, so this small SCP built on DCMTK's DcmSCP
// does, and writes down what it answered so that a test can count attempts.
// Everything else (negotiation, DIMSE, storing the file) is DCMTK's real code.
//
//   router-fake-scp --port N [--aet AET] [--out DIR] [--log FILE]
//                   [--statuses A700,A700,0000] [--delay-ms MS]
//                   [--refuse-sop-class UID|KEYWORD]... [--hang]
//
//   --out DIR        each stored instance is written as DIR/<SOPInstanceUID>.dcm
//                    (temporary file + rename: a reader never sees half a file),
//                    in the transfer syntax it arrived in
//   --log FILE       one line per C-STORE received, flushed at once:
//                    "<SOPInstanceUID> <status as 4 hex digits>" (default: stdout)
//   --statuses LIST  the status answered to the 1st, 2nd, ... C-STORE received
//                    (hex, comma-separated); 0000 for every C-STORE after the list.
//                    Only success (0000) and warnings (0001, Bxxx) store the file.
//   --delay-ms MS    wait MS milliseconds before answering each C-STORE
//   --refuse-sop-class  leave this storage SOP class out of the negotiation
//                    (the association is accepted, that presentation context is not)
//   --hang           accept TCP connections and never answer anything (a wedged
//                    peer: every association attempt costs the caller its timeout)
// Ends on SIGTERM/SIGINT/SIGKILL; it has no state worth a clean shutdown.
#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmdata/dcxfer.h>
#include <dcmtk/dcmnet/scp.h>
#include <dcmtk/oflog/oflog.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace router {
namespace {

struct Options {
  int port = 0;
  std::string aet = "FAKESCP";
  std::string outDir;
  std::string logPath;
  std::vector<Uint16> statuses;
  int delayMs = 0;
  std::set<std::string> refused;  // SOP class UIDs
  bool hang = false;
};

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::vector<Uint16> parseStatuses(const std::string& text) {
  std::vector<Uint16> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    std::string item =
        text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (item.rfind("0x", 0) == 0 || item.rfind("0X", 0) == 0) item = item.substr(2);
    char* end = nullptr;
    unsigned long value = std::strtoul(item.c_str(), &end, 16);
    if (item.empty() || *end != '\0' || value > 0xFFFF)
      throw UsageError("bad status '" + item + "' in --statuses");
    out.push_back(static_cast<Uint16>(value));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

std::string sopClassUid(const std::string& text) {
  if (!text.empty() && std::isdigit(static_cast<unsigned char>(text[0]))) return text;
  const char* uid = dcmFindUIDFromName(text.c_str());
  if (!uid) throw UsageError("unknown SOP class '" + text + "'");
  return uid;
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--hang") {
      o.hang = true;
      continue;
    }
    if (i + 1 >= argc) throw UsageError(arg + " needs a value");
    const std::string value = argv[++i];
    if (arg == "--port")
      o.port = std::atoi(value.c_str());
    else if (arg == "--aet")
      o.aet = value;
    else if (arg == "--out")
      o.outDir = value;
    else if (arg == "--log")
      o.logPath = value;
    else if (arg == "--statuses")
      o.statuses = parseStatuses(value);
    else if (arg == "--delay-ms")
      o.delayMs = std::atoi(value.c_str());
    else if (arg == "--refuse-sop-class")
      o.refused.insert(sopClassUid(value));
    else
      throw UsageError("unknown option " + arg);
  }
  if (o.port <= 0 || o.port > 65535) throw UsageError("--port N (1..65535) is required");
  return o;
}

struct FileCloser {
  void operator()(FILE* f) const {
    if (f && f != stdout) std::fclose(f);
  }
};

// A storage SCP that answers each C-STORE with the next scripted status.
// One association at a time (DcmSCP's listen loop), so no locking.
class FakeScp : public DcmSCP {
 public:
  FakeScp(const Options& options, FILE* log) : options_(options), log_(log) {}

 protected:
  OFCondition handleIncomingCommand(T_DIMSE_Message* message,
                                    const DcmPresentationContextInfo& info) override {
    if (message->CommandField != DIMSE_C_STORE_RQ)
      return DcmSCP::handleIncomingCommand(message, info);
    T_DIMSE_C_StoreRQ& request = message->msg.CStoreRQ;
    DcmDataset* received = nullptr;
    OFCondition cond = receiveSTORERequest(request, info.presentationContextID, received);
    std::unique_ptr<DcmDataset> dataset(received);
    if (cond.bad()) return cond;

    const Uint16 status =
        count_ < options_.statuses.size() ? options_.statuses[count_] : STATUS_Success;
    ++count_;
    const bool stores = status == STATUS_Success || status == 0x0001 || (status & 0xF000) == 0xB000;
    if (stores && !options_.outDir.empty() && dataset) {
      if (!save(*dataset, request.AffectedSOPInstanceUID, info.acceptedTransferSyntax)) {
        std::fprintf(stderr, "fake-scp: cannot write %s\n", request.AffectedSOPInstanceUID);
      }
    }
    if (options_.delayMs > 0)
      std::this_thread::sleep_for(std::chrono::milliseconds(options_.delayMs));
    // The line is written before the answer: once the sender has its
    // response, the log already shows the attempt.
    std::fprintf(log_, "%s %04X\n", request.AffectedSOPInstanceUID, static_cast<unsigned>(status));
    std::fflush(log_);
    return sendSTOREResponse(info.presentationContextID, request, status);
  }

 private:
  bool save(DcmDataset& dataset, const char* sopInstanceUid, const OFString& transferSyntax) {
    const std::string path = options_.outDir + "/" + sopInstanceUid + ".dcm";
    const std::string temp = options_.outDir + "/." + sopInstanceUid + ".tmp";
    DcmFileFormat file(&dataset);
    E_TransferSyntax xfer = DcmXfer(transferSyntax.c_str()).getXfer();
    if (file.saveFile(temp.c_str(), xfer).bad()) return false;
    return std::rename(temp.c_str(), path.c_str()) == 0;
  }

  const Options& options_;
  FILE* log_;
  size_t count_ = 0;
};

// --hang: the TCP handshake completes (the kernel does it) and the bytes sent
// are read and dropped, but no PDU ever comes back.
int hang(const Options& options) {
  int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  if (listener < 0) return 1;
  int one = 1;
  ::setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(options.port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::listen(listener, 64) != 0) {
    std::perror("fake-scp: bind/listen");
    return 1;
  }
  std::vector<pollfd> fds{{listener, POLLIN, 0}};
  char buffer[65536];
  for (;;) {
    if (::poll(fds.data(), fds.size(), -1) < 0) continue;
    for (size_t i = fds.size(); i-- > 1;) {
      if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      if (::read(fds[i].fd, buffer, sizeof buffer) <= 0) {
        ::close(fds[i].fd);
        fds.erase(fds.begin() + static_cast<long>(i));
      }
    }
    if (fds[0].revents & POLLIN) {
      int connection = ::accept(listener, nullptr, nullptr);
      if (connection >= 0) {
        fds.push_back({connection, POLLIN, 0});
        std::fprintf(stderr, "fake-scp: connection accepted, never answering (--hang)\n");
      }
    }
  }
}

int serve(const Options& options) {
  std::unique_ptr<FILE, FileCloser> log(
      options.logPath.empty() ? stdout : std::fopen(options.logPath.c_str(), "a"));
  if (!log) {
    std::perror(("fake-scp: " + options.logPath).c_str());
    return 1;
  }
  FakeScp scp(options, log.get());
  scp.setPort(static_cast<Uint16>(options.port));
  scp.setAETitle(options.aet.c_str());
  scp.setHostLookupEnabled(OFFalse);

  OFList<OFString> syntaxes;
  for (const char* uid :
       {UID_LittleEndianExplicitTransferSyntax, UID_LittleEndianImplicitTransferSyntax,
        UID_BigEndianExplicitTransferSyntax, UID_DeflatedExplicitVRLittleEndianTransferSyntax,
        UID_JPEGProcess1TransferSyntax, UID_JPEGProcess2_4TransferSyntax,
        UID_JPEGProcess14TransferSyntax, UID_JPEGProcess14SV1TransferSyntax,
        UID_JPEGLSLosslessTransferSyntax, UID_JPEGLSLossyTransferSyntax,
        UID_JPEG2000LosslessOnlyTransferSyntax, UID_JPEG2000TransferSyntax,
        UID_RLELosslessTransferSyntax}) {
    syntaxes.push_back(uid);
  }
  OFList<OFString> verification;
  verification.push_back(UID_LittleEndianExplicitTransferSyntax);
  verification.push_back(UID_LittleEndianImplicitTransferSyntax);
  scp.addPresentationContext(UID_VerificationSOPClass, verification);
  for (int i = 0; i < numberOfDcmAllStorageSOPClassUIDs; ++i) {
    if (options.refused.count(dcmAllStorageSOPClassUIDs[i])) continue;
    scp.addPresentationContext(dcmAllStorageSOPClassUIDs[i], syntaxes);
  }
  std::fprintf(stderr, "fake-scp: %s listening on port %d\n", options.aet.c_str(), options.port);
  OFCondition cond = scp.listen();
  std::fprintf(stderr, "fake-scp: listen ended: %s\n", cond.text());
  return cond.good() ? 0 : 1;
}

}  // namespace
}  // namespace router

int main(int argc, char** argv) {
  OFLog::configure(OFLogger::WARN_LOG_LEVEL);
  try {
    router::Options options = router::parse(argc, argv);
    return options.hang ? router::hang(options) : router::serve(options);
  } catch (const router::UsageError& e) {
    std::fprintf(stderr,
                 "router-fake-scp: %s\nusage: router-fake-scp --port N [--aet AET] [--out DIR] "
                 "[--log FILE]\n"
                 "  [--statuses A700,A700,0000] [--delay-ms MS] [--refuse-sop-class "
                 "UID|KEYWORD]... [--hang]\n",
                 e.what());
    return 2;
  }
}
