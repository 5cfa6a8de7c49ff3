// The wire between the router (in Orthanc) and its transcoder worker
// processes: one SOCK_SEQPACKET socket pair per worker, fixed-size messages,
// and the DICOM bytes in sealed memfd files passed with SCM_RIGHTS, so the
// pixel data is written once into shared memory and mapped by the other
// side instead of streamed through the socket.
//
//   worker -> router   Reply{Ready, lockdown}    once, when it is locked down
//   router -> worker   Request + memfd (the Part-10 input)
//   worker -> router   Reply{Parsed, what}        once the input is parsed
//                      Reply{Done, size} + memfd  the output, or
//                      Reply{Failed | OutOfMemory, message}
//
// A worker that dies shows as end-of-file on its socket.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace router::worker {

inline constexpr uint32_t kMagic = 0x52545731;  // "RTW1"
// The worker's end of the socket pair, as the router spawns it.
inline constexpr int kSocketFd = 3;

struct Request {
  uint32_t magic = kMagic;
  int32_t quality = 0;
  uint8_t newUidWhenLossy = 1;
  uint64_t inputSize = 0;
  char target[72] = {};  // transfer syntax UID, NUL-terminated
};

enum class ReplyKind : uint32_t { Ready = 1, Parsed = 2, Done = 3, Failed = 4, OutOfMemory = 5 };

struct Reply {
  uint32_t magic = kMagic;
  ReplyKind kind = ReplyKind::Failed;
  uint64_t size = 0;   // Done: bytes in the passed memfd
  char text[2000] = {};  // Parsed: what is converted; Failed: the reason
};

// Copies text into a fixed field, cut to fit, always NUL-terminated.
template <size_t N>
void setText(char (&field)[N], const std::string& text) {
  size_t n = text.size() < N - 1 ? text.size() : N - 1;
  text.copy(field, n);
  field[n] = '\0';
}

// A read-only memfd holding bytes (sealed against changes); -1 on failure.
int makeSealedMemfd(const char* name, const char* data, size_t size);

// Sends msg (and fd, when >= 0) as one packet; false when the peer is gone.
bool sendMessage(int socket, const void* msg, size_t size, int fd = -1);

// Receives one packet into msg (exactly size bytes expected) and the fd
// passed with it (-1 if none). Returns false on end-of-file (the peer died)
// or a malformed packet; any received fd is closed then.
bool receiveMessage(int socket, void* msg, size_t size, int* fd);

// The first size bytes of a memfd, mapped read-only for as long as this
// lives (the descriptor may be closed). The writer must have sealed the
// file against shrinking and writing (checked), so it cannot change under
// the mapping. Throws std::runtime_error when the file is not sealed so, is
// shorter, or cannot be mapped.
class MappedMemfd {
 public:
  MappedMemfd(int fd, uint64_t size);
  ~MappedMemfd();
  MappedMemfd(const MappedMemfd&) = delete;
  MappedMemfd& operator=(const MappedMemfd&) = delete;
  std::string_view bytes() const { return {static_cast<const char*>(map_), size_}; }

 private:
  void* map_ = nullptr;
  size_t size_ = 0;
};

// The same bytes copied into a string (the router keeps the output).
std::string readMemfd(int fd, uint64_t size);

}  // namespace router::worker
