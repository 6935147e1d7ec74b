# ACPI tables: the builder goes into the VMM library, its test into the
# unit tests. Both lists are expanded with := right after they are set
# (VMM_OBJS in src/src.mk, UNIT_TESTS in tests/unit/unit.mk), so this file
# is included from src/src.mk between the two, and tests/unit/unit.mk
# appends its own names to UNIT_NAMES with +=.

VMM_SRCS += src/arch/x86/acpi.c
UNIT_NAMES += acpi
