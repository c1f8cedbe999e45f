#pragma once
// Portable pseudo-randomness and hashing: the same numbers from a seed on every machine, compiler and standard
// library (std::shuffle and the <random> distributions are implementation-defined).
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <utility>

namespace saediff {

// splitmix64 (Steele, Lea, Flood 2014): advances `state` and returns the next 64 random bits.
inline uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// A uniform double in [0, 1) from the next 53 bits.
inline double splitmix64_unit(uint64_t& state) { return static_cast<double>(splitmix64(state) >> 11) * 0x1.0p-53; }

// Fisher-Yates shuffle driven by splitmix64 (the modulo's bias is below 2^-40 for any size here).
template <class T>
void splitmix64_shuffle(T& items, uint64_t& state) {
  for (size_t i = items.size(); i > 1; --i) std::swap(items[i - 1], items[static_cast<size_t>(splitmix64(state) % i)]);
}

// 64-bit FNV-1a of the bytes.
inline uint64_t fnv1a64(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ULL;
  return h;
}

}  // namespace saediff
