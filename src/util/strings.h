// Small string helpers shared by the layers (ASCII only: names of types, mixes, keys).
#pragma once

#include <string_view>

namespace autarky {

// True when a and b are equal ignoring ASCII case ("q4_k" == "Q4_K").
bool EqualsIgnoreCase(std::string_view a, std::string_view b);

}  // namespace autarky
