; io.asm - I/O heavy: each iteration reads and writes the COM1 scratch register (port 0x3FF)
; and reads and writes a 32-bit MMIO address at 0xFED00000 (the HPET's registers on QEMU's pc;
; unassigned on emu's ROM machine: both leave the memory fast path and exit to the device
; model under KVM). 32-bit protected mode, flat segments; ITERATIONS iterations (default 200,000).
%ifndef ITERATIONS
%define ITERATIONS 200000
%endif
bits 16
org 0
start:
    cli
    o32 lgdt [cs:gdt_desc]
    mov eax, cr0
    or al, 1
    mov cr0, eax
    jmp dword 0x08:(0xF0000 + pm32)
bits 32
pm32:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov esp, 0x9000
    mov ecx, ITERATIONS
    mov ebx, 0xFED00000
.l:
    mov dx, 0x3FF
    mov al, cl
    out dx, al
    in al, dx
    mov eax, [ebx + 0xF0]
    mov [ebx + 0x100], eax
    dec ecx
    jnz .l
    xor al, al
    out 0xf4, al
    hlt
align 8
gdt:
    dq 0
    dq 0x00CF9B000000FFFF
    dq 0x00CF93000000FFFF
gdt_end:
gdt_desc:
    dw gdt_end - gdt - 1
    dd 0xF0000 + gdt
    times 0xfff0 - ($ - $$) db 0xff
bits 16
    jmp 0xf000:start
    times 0x10000 - ($ - $$) db 0xff
