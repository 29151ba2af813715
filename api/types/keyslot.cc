#include "api/types/keyslot.h"

#include <array>

namespace sk {
namespace {

// CRC16/XMODEM table (polynomial 0x1021, MSB first), the same values as Redis's crc16.c,
// computed at compile time instead of pasted.
constexpr std::array<uint16_t, 256> MakeCrc16Table() {
  std::array<uint16_t, 256> table{};
  for (int i = 0; i < 256; ++i) {
    uint16_t crc = static_cast<uint16_t>(i << 8);
    for (int bit = 0; bit < 8; ++bit) {
      crc = static_cast<uint16_t>((crc & 0x8000) ? (crc << 1) ^ 0x1021 : crc << 1);
    }
    table[i] = crc;
  }
  return table;
}

constexpr std::array<uint16_t, 256> kCrc16Table = MakeCrc16Table();

}  // namespace

uint16_t Crc16(std::string_view data) {
  uint16_t crc = 0;
  for (char c : data) {
    const auto byte = static_cast<uint8_t>(c);
    crc = static_cast<uint16_t>((crc << 8) ^ kCrc16Table[((crc >> 8) ^ byte) & 0xff]);
  }
  return crc;
}

int KeySlot(std::string_view key) {
  // Redis's keyHashSlot(): only the first '{' counts, and the tag ends at the first '}' after
  // it. An empty tag ("{}") or a missing '}' hashes the whole key, so "foo{}{bar}" is not
  // tagged while "foo{{bar}}" hashes "{bar".
  const size_t open = key.find('{');
  if (open != std::string_view::npos) {
    const size_t close = key.find('}', open + 1);
    if (close != std::string_view::npos && close > open + 1) {
      key = key.substr(open + 1, close - open - 1);
    }
  }
  // 16384 is a power of two: Redis masks with 0x3FFF.
  return Crc16(key) & 0x3FFF;
}

}  // namespace sk
