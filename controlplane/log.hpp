// The logger moved to lib/util/log.hpp (issue 10). Helper cp-state: include "util/log.hpp" and delete this file.
#pragma once

#include "util/log.hpp"
