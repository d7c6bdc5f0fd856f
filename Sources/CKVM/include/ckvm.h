// Thin C shim over linux/kvm.h for the KVM accelerator (issue 5). Swift cannot call the
// variadic ioctl(2) directly, so typed wrappers live here.
#ifndef CKVM_H
#define CKVM_H
#include <linux/kvm.h>
#endif
