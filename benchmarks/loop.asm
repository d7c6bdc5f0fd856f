; loop.asm - tight integer loop: 5 instructions per iteration, ITERATIONS iterations (default 20,000,000).
%ifndef ITERATIONS
%define ITERATIONS 20000000
%endif
bits 16
org 0
start:
    cli
    mov ecx, ITERATIONS
    xor eax, eax
    xor ebx, ebx
    xor edx, edx
.l:
    add eax, ecx
    xor ebx, eax
    inc edx
    dec ecx
    jnz .l
    xor al, al
    out 0xf4, al
    hlt
    times 0xfff0 - ($ - $$) db 0xff
    jmp 0xf000:start
    times 0x10000 - ($ - $$) db 0xff
