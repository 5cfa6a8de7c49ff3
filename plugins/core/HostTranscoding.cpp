#include "plugins/core/HostTranscoding.h"

#include <algorithm>
#include <chrono>

#include "plugins/core/dicom/TagReader.h"
#include "plugins/core/dicom/Uid.h"
#include "transcoders/TransferSyntax.h"

namespace router {

std::string chooseHostTarget(const std::string& source, const std::vector<std::string>& allowed, bool allowLossy) {
  std::vector<std::string> clean;
  for (const std::string& uid : allowed) clean.push_back(trimUid(uid));
  if (std::find(clean.begin(), clean.end(), source) != clean.end()) return {};
  auto encodable = [](const std::string& uid, bool lossy) {
    const TransferSyntaxInfo* info = findTransferSyntax(uid);
    return info != nullptr && info->canEncode && info->lossy == lossy;
  };
  for (const char* uid : {ts::kExplicitVRLittleEndian, ts::kImplicitVRLittleEndian}) {
    if (std::find(clean.begin(), clean.end(), uid) != clean.end()) return uid;
  }
  for (const std::string& uid : clean) {
    if (encodable(uid, false)) return uid;
  }
  if (allowLossy) {
    for (const std::string& uid : clean) {
      if (encodable(uid, true)) return uid;
    }
  }
  return {};
}

std::optional<std::string> HostTranscoding::convert(std::string_view part10, const std::vector<std::string>& allowed,
                                                    bool allowLossy) const {
  std::string source;
  try {
    source = readIdentity(part10).transferSyntax;
  } catch (const std::exception& e) {
    log_.info(std::string("Orthanc's transcoding request: cannot read the file (") + e.what() +
              "); left to Orthanc's own transcoder");
    return std::nullopt;
  }
  const std::string target = chooseHostTarget(source, allowed, allowLossy);
  if (target.empty()) return std::nullopt;
  TranscodeOptions options;
  auto quality = quality_.find(target);
  if (quality != quality_.end()) options.quality = quality->second;
  options.newUidWhenLossy = true;
  const auto started = std::chrono::steady_clock::now();
  try {
    std::string out = transcoder_.transcode(part10, target, options);
    metrics_.transcoded(transferSyntaxName(target), std::chrono::steady_clock::now() - started);
    return out;
  } catch (const TranscoderCrash& crash) {
    metrics_.transcodeFailed(transferSyntaxName(target));
    metrics_.transcoderCrashed(transferSyntaxName(target), toString(crash.kind()));
    log_.error(std::string("Orthanc's transcoding request: ") + crash.what() +
               "; the worker was replaced, and Orthanc's own transcoder is tried");
  } catch (const std::exception& e) {
    metrics_.transcodeFailed(transferSyntaxName(target));
    log_.info(std::string("Orthanc's transcoding request to ") + transferSyntaxName(target) + ": " + e.what() +
              "; left to Orthanc's own transcoder");
  }
  return std::nullopt;
}

}  // namespace router
