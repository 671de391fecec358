// `autarky pull`: resolve a REF through the Hugging Face API, download its files with resume and
// checksum verification, and record them in the cache. Also the `-m` resolver.
#pragma once

#include <string>

#include "hub/cache.h"
#include "hub/ref.h"
#include "util/status.h"

namespace autarky::hub {

struct PullOptions {
  std::string endpoint = "https://huggingface.co";  // HF_ENDPOINT
  std::string token;                                // HF_TOKEN (sent to the endpoint only)
  bool quiet = false;                               // no progress bars
  int max_attempts = 4;  // per file: a dropped connection is resumed this many times in a run
};

// Endpoint from HF_ENDPOINT; token from HF_TOKEN, else HUGGING_FACE_HUB_TOKEN, else the file
// huggingface_hub's login writes (HF_TOKEN_PATH, else $HF_HOME/token, else
// ~/.cache/huggingface/token).
PullOptions PullOptionsFromEnvironment();

// Downloads what `ref` selects (files already complete are kept) and saves its manifest. Every
// failure leaves the cache consistent: verified files, resumable .part files, and manifests
// only for complete models.
Result<Manifest> Pull(const ModelCache& cache, const ModelRef& ref, const PullOptions& options);

// What `-m TEXT` opens: an existing local path as is; otherwise a REF or alias from the cache,
// pulled first when absent and `pull_if_missing` (and HF_HUB_OFFLINE is not 1). Notes go to
// stderr.
Result<std::string> ResolveModelPath(const std::string& text, bool pull_if_missing);

}  // namespace autarky::hub
