#include "transcoders/worker/WorkerProtocol.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <stdexcept>

namespace router::worker {

int makeSealedMemfd(const char* name, const char* data, size_t size) {
  int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) return -1;
  size_t done = 0;
  while (done < size) {
    ssize_t n = write(fd, data + done, size - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      close(fd);
      return -1;
    }
    done += static_cast<size_t>(n);
  }
  // The reader maps it: nobody may shrink or change it under the mapping.
  fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);
  return fd;
}

bool sendMessage(int socket, const void* msg, size_t size, int fd) {
  iovec iov{const_cast<void*>(msg), size};
  msghdr header{};
  header.msg_iov = &iov;
  header.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  if (fd >= 0) {
    header.msg_control = control;
    header.msg_controllen = sizeof control;
    cmsghdr* c = CMSG_FIRSTHDR(&header);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &fd, sizeof(int));
  }
  for (;;) {
    ssize_t n = sendmsg(socket, &header, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    return n == static_cast<ssize_t>(size);
  }
}

bool receiveMessage(int socket, void* msg, size_t size, int* fd) {
  *fd = -1;
  iovec iov{msg, size};
  msghdr header{};
  header.msg_iov = &iov;
  header.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  header.msg_control = control;
  header.msg_controllen = sizeof control;
  ssize_t n;
  do {
    n = recvmsg(socket, &header, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  for (cmsghdr* c = CMSG_FIRSTHDR(&header); c != nullptr; c = CMSG_NXTHDR(&header, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS && c->cmsg_len == CMSG_LEN(sizeof(int))) {
      std::memcpy(fd, CMSG_DATA(c), sizeof(int));
    }
  }
  const bool ok = n == static_cast<ssize_t>(size) && !(header.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) &&
                  *static_cast<const uint32_t*>(msg) == kMagic;
  if (!ok && *fd >= 0) {
    close(*fd);
    *fd = -1;
  }
  return ok;
}

MappedMemfd::MappedMemfd(int fd, uint64_t size) {
  if (size == 0) return;
  struct stat st {};
  if (fstat(fd, &st) != 0 || static_cast<uint64_t>(st.st_size) < size)
    throw std::runtime_error("the shared file is shorter than announced");
  if (size > SIZE_MAX) throw std::runtime_error("the shared file is larger than this process can map");
  // Mapped only when it cannot shrink or change under the mapping: a file
  // truncated while it is read would raise SIGBUS in this process (a worker
  // taken over by a hostile image must not be able to crash Orthanc so).
  constexpr int kNeeded = F_SEAL_SHRINK | F_SEAL_WRITE;
  const int seals = fcntl(fd, F_GET_SEALS);
  if (seals < 0 || (seals & kNeeded) != kNeeded) {
    throw std::runtime_error("the shared file is not sealed against shrinking and writing");
  }
  void* map = mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
  if (map == MAP_FAILED) throw std::runtime_error(std::string("cannot map the shared file: ") + std::strerror(errno));
  map_ = map;
  size_ = static_cast<size_t>(size);
}

MappedMemfd::~MappedMemfd() {
  if (map_) munmap(map_, size_);
}

std::string readMemfd(int fd, uint64_t size) { return std::string(MappedMemfd(fd, size).bytes()); }

}  // namespace router::worker
