/*
 * The PS/2 keyboard controller of a PC (an 8042 running the IBM PS/2
 * firmware) with a keyboard on its first port and nothing on its
 * auxiliary (mouse) port. It matters mostly for its reset line: command
 * 0xfe is how Linux reboots when ACPI reset is not available.
 */
#ifndef SHALE_DEVICES_LEGACY_I8042_H
#define SHALE_DEVICES_LEGACY_I8042_H

struct vm;
struct i8042;

#define I8042_DATA_PORT 0x60
#define I8042_CMD_PORT 0x64 /* status register when read */
#define I8042_KBD_IRQ 1
#define I8042_AUX_IRQ 12

/* Registers ports 0x60 and 0x64 on vm->pio. -errno on failure. */
int i8042_create(struct vm *vm, struct i8042 **out);
/* Unregisters and frees. The vCPUs must be stopped. */
void i8042_destroy(struct i8042 *k);

#endif
