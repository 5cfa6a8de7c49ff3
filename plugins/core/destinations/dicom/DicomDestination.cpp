// DicomDestination: C-STORE over kept-open DCMTK associations (see header).
// The storage commitment exchange that follows a batch, commit() and
// awaitReport(), is in DicomDestinationCommitment.cpp.
#include "plugins/core/destinations/dicom/DicomDestination.h"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcitem.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmdata/dcxfer.h>
#include <dcmtk/dcmnet/diutil.h>
#include <dcmtk/dcmnet/scu.h>

#include <algorithm>
#include <optional>

#include "plugins/core/Error.h"
#include "plugins/core/destinations/dicom/DicomTransport.h"
#include "plugins/core/dicom/DicomBuffer.h"
#include "plugins/core/dicom/Uid.h"
#include "transcoders/TransferSyntax.h"

namespace router {
namespace {

// DICOM allows at most 128 presentation contexts (odd ids 1..255).
constexpr size_t kMaxContexts = 128;

// Storage SOP classes proposed on every association besides the ones already
// seen, so that a stream of mixed modalities goes out over one association
// instead of one renegotiation per new SOP class.
const char* const kCommonStorageSopClasses[] = {
    UID_CTImageStorage,
    UID_MRImageStorage,
    UID_ComputedRadiographyImageStorage,
    UID_DigitalXRayImageStorageForPresentation,
    UID_DigitalXRayImageStorageForProcessing,
    UID_DigitalMammographyXRayImageStorageForPresentation,
    UID_DigitalMammographyXRayImageStorageForProcessing,
    UID_UltrasoundImageStorage,
    UID_UltrasoundMultiframeImageStorage,
    UID_SecondaryCaptureImageStorage,
    UID_MultiframeGrayscaleByteSecondaryCaptureImageStorage,
    UID_MultiframeGrayscaleWordSecondaryCaptureImageStorage,
    UID_MultiframeTrueColorSecondaryCaptureImageStorage,
    UID_NuclearMedicineImageStorage,
    UID_PositronEmissionTomographyImageStorage,
    UID_XRayAngiographicImageStorage,
    UID_XRayRadiofluoroscopicImageStorage,
    UID_EnhancedCTImageStorage,
    UID_EnhancedMRImageStorage,
    UID_EnhancedPETImageStorage,
    UID_EnhancedXAImageStorage,
    UID_BreastTomosynthesisImageStorage,
    UID_DigitalIntraOralXRayImageStorageForPresentation,
    UID_VLPhotographicImageStorage,
    UID_RTImageStorage,
    UID_RTDoseStorage,
    UID_RTStructureSetStorage,
    UID_RTPlanStorage,
    UID_SegmentationStorage,
    UID_BasicTextSRStorage,
    UID_EnhancedSRStorage,
    UID_ComprehensiveSRStorage,
    UID_KeyObjectSelectionDocumentStorage,
    UID_GrayscaleSoftcopyPresentationStateStorage,
    UID_EncapsulatedPDFStorage,
};

bool isUncompressedPair(const std::string& ts) {
  return ts == ts::kExplicitVRLittleEndian || ts == ts::kImplicitVRLittleEndian;
}

// Native (not encapsulated) pixel data: DCMTK rewrites such a data set in
// any other native syntax while sending, so Explicit/Implicit VR LE
// contexts can carry it.
bool isNative(const std::string& ts) {
  DcmXfer xfer(ts.c_str());
  return xfer.getXfer() != EXS_Unknown && !xfer.isEncapsulated();
}

std::string sopClassName(const std::string& uid) {
  const std::string text = printableUid(uid);
  const char* name = dcmFindNameOfUID(text.c_str(), nullptr);
  return name ? std::string(name) + " (" + text + ")" : text;
}

// DCMTK's SCU takes the SOP class and instance for the C-STORE from the data
// set itself: a UID element with another VR (UN, OB) or with junk after a
// NUL is rewritten as the clean UI value it stands for.
void cleanUidElement(DcmDataset& dataset, const DcmTagKey& key, const std::string& clean) {
  DcmElement* element = nullptr;
  if (clean.empty() || dataset.findAndGetElement(key, element, false).bad() || element == nullptr) return;
  OFString current;
  if (element->ident() == EVR_UI && element->getOFStringArray(current).good() && clean == current.c_str()) return;
  dataset.findAndDeleteElement(key, false, false);
  dataset.putAndInsertString(key, clean.c_str());
}

}  // namespace

DicomDestination::DicomDestination(const DestinationConfig& config, std::string localAet,
                                   CommitmentReports* reports)
    : name_(config.name),
      settings_(config.settingsAs<DicomSettings>()),
      localAet_(std::move(localAet)),
      reports_(reports) {
  if (settings_.aet.empty()) throw ConfigError("destination " + name_ + ": \"AET\" is missing");
  if (settings_.host.empty()) throw ConfigError("destination " + name_ + ": \"Host\" is missing");
  if (settings_.port <= 0 || settings_.port > 65535)
    throw ConfigError("destination " + name_ + ": \"Port\" must be 1..65535");
  transport_ = makeTransport(settings_, name_);
}

DicomDestination::~DicomDestination() { dropAssociation(true); }

std::string DicomDestination::peerName() const {
  return settings_.aet + " " + settings_.host + ":" + std::to_string(settings_.port);
}

std::vector<std::string> DicomDestination::acceptedTransferSyntaxes(const std::string& sopClassUid) const {
  std::lock_guard<std::mutex> lock(acceptedMutex_);
  auto found = accepted_.find(trimUid(sopClassUid));
  return found == accepted_.end() ? std::vector<std::string>{} : found->second;
}

std::vector<DicomDestination::Context> DicomDestination::buildProposal(const std::string& firstSopClass) const {
  std::vector<std::string> order{firstSopClass};
  auto addClass = [&](const std::string& sop) {
    if (std::find(order.begin(), order.end(), sop) == order.end()) order.push_back(sop);
  };
  for (auto it = sopClasses_.rbegin(); it != sopClasses_.rend(); ++it) addClass(*it);
  for (const char* sop : kCommonStorageSopClasses) addClass(sop);
  std::vector<Context> proposal;
  const size_t maxStorage = settings_.storageCommitment ? kMaxContexts - 1 : kMaxContexts;
  for (const std::string& sop : order) {
    std::vector<Context> forSop;
    std::set<std::string> seen;
    auto add = [&](const std::string& ts) {
      if (isUncompressedPair(ts) || !seen.insert(ts).second) return;
      forSop.push_back({sop, {ts}, {}});
    };
    auto extra = extraSyntaxes_.find(sop);
    if (extra != extraSyntaxes_.end()) {
      for (const std::string& ts : extra->second) add(ts);
    }
    for (const std::string& ts : settings_.transferSyntaxes) add(ts);
    forSop.push_back({sop, {ts::kExplicitVRLittleEndian, ts::kImplicitVRLittleEndian}, {}});
    if (proposal.size() + forSop.size() > maxStorage) {
      if (proposal.empty()) forSop.resize(maxStorage);
      else break;
    }
    proposal.insert(proposal.end(), forSop.begin(), forSop.end());
  }
  if (settings_.storageCommitment) {
    proposal.push_back({kStorageCommitmentSopClass, {ts::kExplicitVRLittleEndian, ts::kImplicitVRLittleEndian}, {}});
  }
  return proposal;
}

bool DicomDestination::openAssociation(SendResult& failure) {
  dropAssociation(false);
  auto scu = std::make_unique<DicomScu>();
  configureScu(*scu, settings_, localAet_);
  std::vector<Context> proposal = buildProposal(sopClasses_.empty() ? std::string() : sopClasses_.back());
  for (const Context& context : proposal) {
    OFList<OFString> syntaxes;
    for (const std::string& ts : context.proposed) syntaxes.push_back(ts.c_str());
    scu->addPresentationContext(context.sopClass.c_str(), syntaxes);
  }
  failure = SendResult{};
  failure.outcome = SendOutcome::Retry;
  OFCondition cond = scu->initNetwork();
  if (cond.good()) cond = scu->useTransport(&transport_->layer());
  if (cond.bad()) {
    failure.detail = "cannot prepare the network for " + peerName() + ": " + conditionText(cond);
    return false;
  }
  transport_->startAssociation();
  cond = scu->negotiateAssociation();
  if (cond == NET_EC_NoAcceptablePresentationContexts) {
    // The peer answered but refused every context: remember that, so the
    // caller reports a permanent refusal instead of retrying.
    for (Context& context : proposal) context.accepted.clear();
  } else if (cond.bad()) {
    if (std::optional<TlsFailure> tls = transport_->handshakeFailure()) {
      // Classified where OpenSSL said why: a refused certificate will be
      // refused again (dead letter, with what to check); a reset may not.
      failure.outcome = tls->permanent ? SendOutcome::Permanent : SendOutcome::Retry;
      failure.detail = tls->detail;
    } else if (cond == DUL_ASSOCIATIONREJECTED) {
      failure.detail = "association rejected by " + peerName() +
                       " (check that it knows our AE title " + localAet_ + " and its own AE title)";
    } else {
      std::string text = conditionText(cond);
      if (text.find("timeout") != std::string::npos) {
        failure.detail = "no answer from " + peerName() + " within " + std::to_string(settings_.timeout.count()) +
                         " s while opening the association (" + text + ")";
      } else {
        failure.detail = "cannot connect to " + peerName() + ": " + text;
      }
    }
    return false;
  } else {
    ++associationsOpened_;
    for (size_t i = 0; i < proposal.size(); ++i) {
      proposal[i].accepted = scu->acceptedSyntax(static_cast<unsigned char>(2 * i + 1));
    }
  }

  {
    std::lock_guard<std::mutex> lock(acceptedMutex_);
    std::map<std::string, std::vector<std::string>> learned;
    for (const Context& context : proposal) {
      auto& list = learned[context.sopClass];
      if (!context.accepted.empty() &&
          std::find(list.begin(), list.end(), context.accepted) == list.end()) {
        list.push_back(context.accepted);
      }
    }
    for (auto& [sop, list] : learned) accepted_[sop] = std::move(list);
  }
  contexts_ = std::move(proposal);
  if (cond.bad()) {
    // Nothing usable: end the association but keep what we learned.
    if (scu->isConnected()) scu->releaseAssociation();
    return true;
  }
  scu_ = std::move(scu);
  connection_ = transport_->last();
  return true;
}

void DicomDestination::dropAssociation(bool release) {
  if (scu_ && scu_->isConnected()) {
    if (release) scu_->releaseAssociation();
    else scu_->abortAssociation();
  }
  scu_.reset();
  connection_ = nullptr;
}

void DicomDestination::close() { dropAssociation(true); }

unsigned char DicomDestination::findContext(const std::string& sopClass, const std::string& transferSyntax) const {
  if (!scu_) return 0;
  auto find = [&](const std::string& wanted) -> unsigned char {
    for (size_t i = 0; i < contexts_.size(); ++i) {
      if (contexts_[i].sopClass == sopClass && contexts_[i].accepted == wanted) {
        return static_cast<unsigned char>(2 * i + 1);
      }
    }
    return 0;
  };
  if (unsigned char id = find(transferSyntax)) return id;
  if (isNative(transferSyntax)) {
    if (unsigned char id = find(ts::kExplicitVRLittleEndian)) return id;
    if (unsigned char id = find(ts::kImplicitVRLittleEndian)) return id;
  }
  return 0;
}

bool DicomDestination::negotiated(const std::string& sopClass) const {
  if (!scu_) return false;
  return std::any_of(contexts_.begin(), contexts_.end(), [&](const Context& context) {
    return context.sopClass == sopClass && !context.accepted.empty();
  });
}

SendResult DicomDestination::refusedResult(const std::string& sopClass, const std::string& transferSyntax) const {
  SendResult result;
  result.outcome = SendOutcome::Permanent;
  std::vector<std::string> accepted = acceptedTransferSyntaxes(sopClass);
  if (accepted.empty()) {
    result.detail = peerName() + " does not accept SOP class " + sopClassName(sopClass);
    return result;
  }
  std::string list;
  for (const std::string& ts : accepted) list += (list.empty() ? "" : ", ") + transferSyntaxName(ts);
  const std::string name = transferSyntaxName(printableUid(transferSyntax));
  if (associationCanCarry(transferSyntax)) {
    result.detail = peerName() + " does not accept " + name + " for " + sopClassName(sopClass) + "; it accepts: " + list;
  } else {
    result.detail = name + " cannot be sent on a DICOM association with DCMTK 3.6.7 (it does not know that syntax); " +
                    "for " + sopClassName(sopClass) + ", " + peerName() + " accepts: " + list;
  }
  return result;
}

SendResult DicomDestination::send(const Outgoing& instance) {
  if (!settings_.storageCommitment) return store(instance, nullptr);
  return sendBatch({instance}).front();
}

std::vector<SendResult> DicomDestination::sendBatch(const std::vector<Outgoing>& instances) {
  std::vector<SendResult> results;
  if (!settings_.storageCommitment) {
    for (const Outgoing& instance : instances) results.push_back(store(instance, nullptr));
    return results;
  }
  std::vector<CommitItem> stored;
  std::vector<size_t> storedAt;  // index in instances of each stored one
  for (size_t i = 0; i < instances.size(); ++i) {
    CommitItem item;
    results.push_back(store(instances[i], &item));
    if (results.back().outcome == SendOutcome::Delivered) {
      stored.push_back(std::move(item));
      storedAt.push_back(i);
    }
  }
  if (stored.empty()) return results;
  std::vector<SendResult> committed = commit(stored);
  for (size_t k = 0; k < stored.size(); ++k) {
    // A commitment failure replaces the C-STORE success; a success keeps its warning, if any.
    if (committed[k].outcome != SendOutcome::Delivered) results[storedAt[k]] = committed[k];
  }
  return results;
}

SendResult DicomDestination::store(const Outgoing& instance, CommitItem* stored) {
  std::unique_ptr<DcmFileFormat> file;
  try {
    file = parseDicom(instance.part10);
  } catch (const RouterError& error) {
    SendResult result;
    result.outcome = SendOutcome::Permanent;
    result.detail = error.what();
    return result;
  }
  DcmDataset* dataset = file->getDataset();
  // Trimmed everywhere: a NUL pad in a presentation context or a map key
  // would make a SOP class the peer accepts look refused.
  std::string sopClass = trimUid(instance.sopClassUid);
  std::string transferSyntax = trimUid(instance.transferSyntax);
  if (sopClass.empty()) sopClass = readUid(*dataset, DCM_SOPClassUID);
  if (transferSyntax.empty()) transferSyntax = DcmXfer(dataset->getOriginalXfer()).getXferID();
  const std::string sopInstance = readUid(*dataset, DCM_SOPInstanceUID);
  cleanUidElement(*dataset, DCM_SOPClassUID, sopClass);
  cleanUidElement(*dataset, DCM_SOPInstanceUID, sopInstance);
  // A syntax the transcoders know but DCMTK cannot carry (HTJ2K) is never
  // proposed: the refusal names what the peer accepts for the SOP class,
  // and delivery falls back to one of those.
  const bool carried = associationCanCarry(transferSyntax);
  if (sopClass.empty() || (!carried && findTransferSyntax(transferSyntax) == nullptr)) {
    SendResult result;
    result.outcome = SendOutcome::Permanent;
    result.detail = "cannot send: the file has no SOP Class UID or an unknown transfer syntax";
    return result;
  }

  // Remember what this instance needs; the next negotiation proposes it.
  sopClasses_.erase(std::remove(sopClasses_.begin(), sopClasses_.end(), sopClass), sopClasses_.end());
  sopClasses_.push_back(sopClass);
  if (carried && !isUncompressedPair(transferSyntax)) extraSyntaxes_[sopClass].insert(transferSyntax);

  for (int attempt = 0; attempt < 2; ++attempt) {
    bool fresh = false;
    if (!scu_ || !scu_->isConnected()) {
      SendResult failure;
      if (!openAssociation(failure)) {
        dropAssociation(false);
        return failure;
      }
      fresh = true;
    }
    unsigned char contextId = carried ? findContext(sopClass, transferSyntax) : 0;
    if (contextId == 0) {
      if (fresh || (!carried && negotiated(sopClass))) return refusedResult(sopClass, transferSyntax);
      // Negotiated before this SOP class / syntax was needed, or refused back
      // then (the peer may have been fixed since, e.g. before a retry of its
      // dead letters): a refusal counts only from a fresh negotiation.
      dropAssociation(true);
      --attempt;  // not a failure; the loop ends because the next one is fresh
      continue;
    }

    if (settings_.storageCommitment && findContext(kStorageCommitmentSopClass, ts::kExplicitVRLittleEndian) == 0) {
      if (!fresh) {  // as above: only a fresh refusal counts
        dropAssociation(true);
        --attempt;
        continue;
      }
      // Checked before the C-STORE: nothing is sent that could never count.
      SendResult result;
      result.outcome = SendOutcome::Permanent;
      result.detail = peerName() +
                      " does not support storage commitment (it refused the Storage Commitment Push Model "
                      "SOP class 1.2.840.10008.1.20.1 at association negotiation); set \"StorageCommitment\": "
                      "false for destination " + name_ + " or enable storage commitment on the peer";
      return result;
    }

    Uint16 status = 0;
    OFCondition cond = scu_->sendSTORERequest(contextId, OFFilename(), dataset, status);
    if (cond.good()) {
      SendResult result = classifyDimseStatus(status);
      if (stored != nullptr && result.outcome == SendOutcome::Delivered) *stored = CommitItem{sopClass, sopInstance};
      return result;
    }
    std::string text = conditionText(cond);
    dropAssociation(false);
    if (cond == DIMSE_BADDATA || cond == NET_EC_InvalidSOPClassUID || cond == NET_EC_InvalidSOPInstanceUID) {
      SendResult result;
      result.outcome = SendOutcome::Permanent;
      result.detail = "cannot send to " + peerName() + ": " + text;
      return result;
    }
    // A kept-open association may have been closed by the peer while idle:
    // try once more on a new one before reporting a failure.
    if (fresh) {
      SendResult result;
      result.outcome = SendOutcome::Retry;
      result.detail = "C-STORE to " + peerName() + " failed: " + text;
      return result;
    }
  }
  SendResult result;
  result.outcome = SendOutcome::Retry;
  result.detail = "C-STORE to " + peerName() + " failed twice";
  return result;
}

bool DicomDestination::probe() {
  DicomScu scu;
  configureScu(scu, settings_, localAet_);
  OFList<OFString> syntaxes;
  syntaxes.push_back(UID_LittleEndianExplicitTransferSyntax);
  syntaxes.push_back(UID_LittleEndianImplicitTransferSyntax);
  scu.addPresentationContext(UID_VerificationSOPClass, syntaxes);
  if (scu.initNetwork().bad() || scu.useTransport(&transport_->layer()).bad()) return false;
  transport_->startAssociation();
  if (scu.negotiateAssociation().bad()) return false;
  bool alive = scu.sendECHORequest(0).good();
  if (alive) scu.releaseAssociation();
  else scu.abortAssociation();
  return alive;
}

}  // namespace router
