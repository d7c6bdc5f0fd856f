; reboot.asm - a multiboot test kernel that prints "BOOT <method>" on COM1 and resets the
; machine. The method comes from the command line: "kbc" pulses the i8042 reset line (0xFE to
; port 0x64), "cf9" writes 0x06 to the PIIX3 reset control register, "triple" triple-faults.
; With --no-reboot emu exits 0 at the reset; otherwise the machine restarts and prints again.
        bits 32
        org 0x100000
MB_MAGIC  equ 0x1BADB002
MB_FLAGS  equ 0x00010004          ; want the command line; address fields valid
header:
        dd MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)
        dd header, header, 0, 0, start

start:
        mov esp, 0x90000
        mov esi, msg
        call puts
        mov ebx, [ebx + 16]             ; command line: "<kernel path> <method>"
.find:  cmp byte [ebx], 0
        je .kbc
        cmp dword [ebx], "cf9"
        je .cf9
        cmp dword [ebx], "trip"
        je .triple
        inc ebx
        jmp .find
.cf9:   mov esi, m_cf9
        call puts
        mov dx, 0xCF9
        mov al, 0x06
        out dx, al
        jmp .hang
.triple:
        mov esi, m_triple
        call puts
        lidt [null_idt]
        int 3
.kbc:   mov esi, m_kbc
        call puts
        mov al, 0xFE
        out 0x64, al
.hang:  hlt
        jmp .hang

puts:   lodsb
        test al, al
        jz .done
        mov ah, al
        mov dx, 0x3FD
.w:     in al, dx
        test al, 0x20
        jz .w
        mov al, ah
        mov dx, 0x3F8
        out dx, al
        jmp puts
.done:  ret

msg:      db "BOOT ", 0
m_kbc:    db "kbc", 13, 10, 0
m_cf9:    db "cf9", 13, 10, 0
m_triple: db "triple", 13, 10, 0
null_idt: dw 0
          dd 0
