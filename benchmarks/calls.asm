; calls.asm - call/return heavy (real mode): a three-deep chain of near calls, an indirect call
; through a register and a far call per iteration; ITERATIONS iterations (default 2,000,000).
%ifndef ITERATIONS
%define ITERATIONS 2000000
%endif
bits 16
org 0
start:
    cli
    mov ax, 0x9000
    mov ss, ax
    mov sp, 0xfffe
    mov ecx, ITERATIONS
    xor eax, eax
.l:
    call f1
    mov bx, f3
    call bx
    call 0xF000:farf
    dec ecx
    jnz .l
    xor al, al
    out 0xf4, al
    hlt
f1: inc eax
    call f2
    ret
f2: add eax, ecx
    call f3
    ret
f3: xor eax, 0x5A5A
    ret
farf:
    sub eax, 3
    retf
    times 0xfff0 - ($ - $$) db 0xff
    jmp 0xf000:start
    times 0x10000 - ($ - $$) db 0xff
