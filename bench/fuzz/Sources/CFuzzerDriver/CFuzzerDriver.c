// Header-only module: LLVMFuzzerRunDriver is defined by libFuzzer.
#include "CFuzzerDriver.h"
