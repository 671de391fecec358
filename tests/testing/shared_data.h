// Locating ../shared reference data from tests; tests skip with a message when it is absent.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

namespace autarky::testing {

// Path of the shared reference folder (AUTARKY_SHARED_DIR env var overrides the built-in one).
std::filesystem::path SharedDir();

// True when `relative` exists under SharedDir().
bool HaveShared(const std::string& relative);

}  // namespace autarky::testing

// Skips the current test when ../shared/<relative> is missing.
#define SKIP_WITHOUT_SHARED(relative)                                                   \
  do {                                                                                  \
    if (!::autarky::testing::HaveShared(relative)) {                                    \
      GTEST_SKIP() << "reference data " << (::autarky::testing::SharedDir() / (relative)) \
                   << " is absent; this test needs ../shared";                          \
    }                                                                                   \
  } while (0)
