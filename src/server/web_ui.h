// The web chat served at GET /: one self-contained HTML page (styles and script inline), built
// into the binary so that `autarky serve` needs no files at run time.
#pragma once

#include <string_view>

namespace autarky::server {

std::string_view WebUiHtml();

}  // namespace autarky::server
