; real_modes.asm - checks the test-ROM library itself: reporting in real mode, ENTER_PM32 (flat
; 32-bit protected mode), LEAVE_PM32 back to real mode, ENTER_LONG64 (identity-mapped long mode),
; and the 32/64-bit reporting macros. Also passes under QEMU.
%define ROM_ORG 0xF0000
%include "lib/rom.inc"
%include "lib/modes.inc"

main:
    PRINT "real_modes: library mode switches"
    mov ax, 0x1234
    EXPECT16 ax, 0x1234, "real mode EXPECT16"
    mov eax, 0xDEADBEEF
    EXPECT32 eax, 0xDEADBEEF, "real mode EXPECT32"
    mov ax, cs
    EXPECT16 ax, 0xF000, "real mode CS"
    ENTER_PM32
    mov eax, cr0
    and eax, 1
    EXPECT32 eax, 1, "ENTER_PM32: CR0.PE"
    mov ax, cs
    EXPECT16 ax, SEL_CODE32, "ENTER_PM32: CS"
    mov ax, ss
    EXPECT16 ax, SEL_DATA32, "ENTER_PM32: SS"
    mov dword [0x200000], 0x5A5A5A5A       ; flat data above 1 MiB
    EXPECT32 [0x200000], 0x5A5A5A5A, "flat 32-bit memory access above 1 MiB"
    call lib32_idt_init
    LEAVE_PM32
    mov eax, cr0
    and eax, 1
    EXPECT32 eax, 0, "LEAVE_PM32: CR0.PE clear"
    mov ax, cs
    EXPECT16 ax, 0xF000, "LEAVE_PM32: CS"
    mov ax, 0x7
    EXPECT16 ax, 7, "real mode again"
    ENTER_PM32
    ENTER_LONG64
    mov ecx, 0xC0000080
    rdmsr
    and eax, 0x500
    EXPECT32 rax, 0x500, "ENTER_LONG64: EFER.LME and LMA"
    mov ax, cs
    EXPECT16 ax, SEL_CODE64, "ENTER_LONG64: CS"
    mov rax, 0x123456789
    mov rbx, rax
    EXPECT64 rax, rbx, "64-bit EXPECT64"
    mov rax, [0x3FFFFFF8]                  ; the last 2 MiB page of the map is present (no #PF)
    mov rax, 0x0123456789ABCDEF
    mov [0x1FFFFF0], rax
    mov rbx, [0x1FFFFF0]
    EXPECT64 rbx, rax, "identity map at 32 MiB - 16"
    call lib64_idt_init
    FINISH
