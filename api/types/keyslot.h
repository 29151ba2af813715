// Key -> hash slot, exactly as Redis Cluster computes it.
#pragma once

#include <cstdint>
#include <string_view>

namespace sk {

// CRC16/XMODEM (poly 0x1021, init 0), the variant Redis Cluster uses.
uint16_t Crc16(std::string_view data);

// CRC16(key) mod 16384, hashing only the {tag} when the key has a non-empty one
// (the first '{' and the first '}' after it).
int KeySlot(std::string_view key);

}  // namespace sk
