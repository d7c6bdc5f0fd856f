; mixed.asm - a mix of ALU work, loads/stores, calls/returns and string moves (real mode).
%ifndef ITERATIONS
%define ITERATIONS 400000
%endif
bits 16
org 0
start:
    cli
    cld
    mov ax, 0x9000
    mov ss, ax
    mov sp, 0xfffe
    mov ax, 0x1000
    mov ds, ax
    mov es, ax
    mov ebp, ITERATIONS                ; outer iterations
.outer:
    xor si, si
    mov cx, 16
.inner:                             ; loads, stores, ALU
    mov ax, [si]
    add ax, cx
    imul ax, ax, 3
    mov [si+0x100], ax
    add si, 2
    call leaf
    loop .inner
    mov si, 0x100                   ; string copy of 64 bytes
    mov di, 0x400
    mov cx, 32
    rep movsw
    dec ebp
    jnz .outer
    xor al, al
    out 0xf4, al
    hlt
leaf:
    xor bx, bx
    add bx, si
    shr bx, 1
    ret
    times 0xfff0 - ($ - $$) db 0xff
    jmp 0xf000:start
    times 0x10000 - ($ - $$) db 0xff
