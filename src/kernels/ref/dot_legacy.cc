// PLACEHOLDER: replaced by the real implementation.
#include "kernels/kernel_table.h"

namespace autarky::kernels { void RegisterLegacyScalar(KernelRegistry&) {} }
