// Runs Maestro's start-up hook when the program is loaded (see startup.c).
#pragma once
