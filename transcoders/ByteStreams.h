// Stream buffers over bytes in memory, for GDCM's reader and writer, which
// take only std::istream / std::ostream. std::istringstream copies the whole
// file before GDCM reads it; std::ostringstream copies the output again each
// time it grows and once more for str(). These copy nothing beyond what GDCM
// itself reads or writes.
//
// Not shared between threads: one per read or write.
#pragma once

#include <algorithm>
#include <cstddef>
#include <ios>
#include <streambuf>
#include <string>
#include <string_view>

namespace router::codecs {

// Reads (and seeks in) bytes held elsewhere; they must outlive the buffer.
class BytesInput final : public std::streambuf {
 public:
  explicit BytesInput(std::string_view bytes) {
    // The get area is only ever read: this buffer has no put area, and
    // putting back a different byte fails (pbackfail is not overridden).
    char* begin = const_cast<char*>(bytes.data());
    setg(begin, begin, begin + bytes.size());
  }

 protected:
  pos_type seekoff(off_type off, std::ios_base::seekdir dir,
                   std::ios_base::openmode which) override {
    if (!(which & std::ios_base::in)) return pos_type(off_type(-1));
    const off_type size = egptr() - eback();
    const off_type base = dir == std::ios_base::beg   ? 0
                          : dir == std::ios_base::cur ? gptr() - eback()
                                                      : size;
    if (off < -base || off > size - base) return pos_type(off_type(-1));
    setg(eback(), eback() + (base + off), egptr());
    return pos_type(base + off);
  }
  pos_type seekpos(pos_type pos, std::ios_base::openmode which) override {
    return seekoff(off_type(pos), std::ios_base::beg, which);
  }
};

// Writes into one std::string reserved for the expected size (it grows if
// that was too little). Seeking back overwrites, as a file would.
class StringOutput final : public std::streambuf {
 public:
  explicit StringOutput(std::size_t expected) { bytes_.reserve(expected); }
  // The bytes written; the buffer is empty afterwards.
  std::string take() {
    at_ = 0;
    return std::move(bytes_);
  }

 protected:
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    const std::size_t count = static_cast<std::size_t>(n);
    if (at_ == bytes_.size()) {
      bytes_.append(s, count);
    } else {
      bytes_.replace(at_, std::min(count, bytes_.size() - at_), s, count);
    }
    at_ += count;
    return n;
  }
  int_type overflow(int_type c) override {
    if (traits_type::eq_int_type(c, traits_type::eof())) return traits_type::not_eof(c);
    const char byte = traits_type::to_char_type(c);
    xsputn(&byte, 1);
    return c;
  }
  pos_type seekoff(off_type off, std::ios_base::seekdir dir,
                   std::ios_base::openmode which) override {
    if (!(which & std::ios_base::out)) return pos_type(off_type(-1));
    const off_type size = off_type(bytes_.size());
    const off_type base = dir == std::ios_base::beg   ? 0
                          : dir == std::ios_base::cur ? off_type(at_)
                                                      : size;
    if (off < -base || off > size - base) return pos_type(off_type(-1));
    at_ = std::size_t(base + off);
    return pos_type(base + off);
  }
  pos_type seekpos(pos_type pos, std::ios_base::openmode which) override {
    return seekoff(off_type(pos), std::ios_base::beg, which);
  }

 private:
  std::string bytes_;
  std::size_t at_ = 0;  // where the next byte goes
};

}  // namespace router::codecs
