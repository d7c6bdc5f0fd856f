; hello.asm - the default guest: prints a greeting on COM1 and exits through port 0xF4.
; Assembled to a 64 KiB raw image mapped at F000:0000; the CPU starts at F000:FFF0.
bits 16
org 0

start:
    cli
    mov ax, cs
    mov ds, ax
    mov ax, 0x9000
    mov ss, ax
    mov sp, 0xfffe
    mov si, msg
.next:
    lodsb
    test al, al
    jz .done
    call putc
    jmp .next
.done:
    mov al, 0                ; exit status (0 << 1) | 1 = 1
    out 0xf4, al
    hlt

; putc: waits for the transmitter holding register to empty, then sends AL.
putc:
    push ax
    mov dx, 0x3fd
.wait:
    in al, dx
    test al, 0x20
    jz .wait
    pop ax
    mov dx, 0x3f8
    out dx, al
    ret

msg: db "Hello from emu: a 16-bit guest is running.", 13, 10, 0

    times 0xfff0 - ($ - $$) db 0xff
reset:
    jmp 0xf000:start
    times 0x10000 - ($ - $$) db 0xff
