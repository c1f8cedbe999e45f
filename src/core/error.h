#pragma once
// Errors: library code throws saediff::Error; main() catches it and aborts every rank.
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace saediff {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Concatenates anything streamable: cat("n=", 3, " x=", 1.5) -> "n=3 x=1.5".
template <typename... Args>
std::string cat(Args&&... args) {
  std::ostringstream os;
  (os << ... << std::forward<Args>(args));
  return os.str();
}

// "file:line (rank R on HOST)": the place every error message carries.
std::string error_location(const char* file, int line);

[[noreturn]] void throw_error(const char* file, int line, const std::string& message);

}  // namespace saediff

// Throws saediff::Error with file:line, rank and host when `cond` is false.
#define SAEDIFF_CHECK(cond, ...)                                                                 \
  do {                                                                                           \
    if (!(cond)) ::saediff::throw_error(__FILE__, __LINE__, ::saediff::cat(__VA_ARGS__));        \
  } while (0)

#define SAEDIFF_FAIL(...) ::saediff::throw_error(__FILE__, __LINE__, ::saediff::cat(__VA_ARGS__))
