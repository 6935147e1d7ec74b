# Legacy PC devices: the sources go into the VMM library, their tests into
# the unit tests. Both lists are expanded with := right after they are set
# (VMM_OBJS in src/src.mk, UNIT_TESTS in tests/unit/unit.mk), so this file
# is included from src/src.mk between the two, and tests/unit/unit.mk
# appends its own names to UNIT_NAMES with +=.

VMM_SRCS += $(addprefix src/devices/legacy/,serial.c i8042.c rtc.c pci.c pm.c)
UNIT_NAMES += $(addprefix legacy_,serial i8042 rtc pci pm)
