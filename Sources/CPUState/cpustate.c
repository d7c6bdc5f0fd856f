#include "cpustate.h"
