; multiboot_info.asm - a multiboot v1 test kernel (a.out kludge: the header gives the load
; addresses, so nasm -f bin is enough). Checks what the boot loader hands over and reports on
; COM1; exits through port 0xF4 with the number of failures (status (n<<1)|1).
;   emu boot --kernel multiboot_info.bin --append "hello world" --ram 64 [--initrd FILE]
; Expects: EAX = 0x2BADB002; EBX -> info with flags mem (0), cmdline (2), mmap (6);
; mem_lower = 639 KiB; mem_upper = RAM - 1 MiB in KiB; the command line ends with
; "hello world"; the memory map has a RAM entry at 1 MiB; flat 32-bit protected mode, paging
; off, IF = 0; if a module is given (flag 3), its first byte is printed.
        bits 32
        org 0x100000
MB_MAGIC  equ 0x1BADB002
MB_FLAGS  equ 0x00010003          ; page-align modules, want memory info, address fields valid
header:
        dd MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)
        dd header, header, 0, bss_end, start

COM1    equ 0x3F8

start:
        mov esp, stack_top
        mov [boot_eax], eax
        mov [boot_ebx], ebx
        xor ebp, ebp                    ; failure count

        cmp dword [boot_eax], 0x2BADB002
        call check
        db "eax magic", 0

        mov ebx, [boot_ebx]
        mov eax, [ebx]
        and eax, 0x45
        cmp eax, 0x45
        call check
        db "info flags mem+cmdline+mmap", 0

        cmp dword [ebx + 4], 639
        call check
        db "mem_lower 639", 0

        mov eax, [ebx + 8]              ; mem_upper in KiB
        add eax, 1024
        shr eax, 10
        mov [ram_mib], eax
        cmp eax, 64
        call check
        db "mem_upper matches 64 MiB", 0

        ; command line ends with "hello world"
        mov esi, [ebx + 16]
        mov edi, esi
.len:   cmp byte [edi], 0
        je .lend
        inc edi
        jmp .len
.lend:  sub edi, 11
        cmp edi, esi
        jb .badcl
        push esi
        mov esi, edi
        mov edi, want_cmdline
        mov ecx, 11
        repe cmpsb
        pop esi
        jmp .cl
.badcl: cmp esi, 0                      ; ZF = 0 (esi is non-zero): fail
.cl:    call check
        db "cmdline", 0

        ; memory map: look for a type-1 entry at base 0x100000
        mov esi, [ebx + 48]             ; mmap_addr
        mov ecx, [ebx + 44]             ; mmap_length
        add ecx, esi
        xor edx, edx
.mm:    cmp esi, ecx
        jae .mmend
        cmp dword [esi + 4], 0x100000
        jne .next
        cmp dword [esi + 20], 1
        jne .next
        inc edx
.next:  add esi, [esi]
        add esi, 4
        jmp .mm
.mmend: cmp edx, 1
        call check
        db "mmap has RAM at 1 MiB", 0

        mov eax, cr0
        test eax, 0x80000000
        call check_z
        db "paging off", 0
        pushfd
        pop eax
        test eax, 0x200
        call check_z
        db "interrupts off", 0

        ; optional module
        test dword [ebx], 8
        jz .nomod
        mov esi, [ebx + 24]
        mov esi, [esi]                  ; mod_start
        mov esi, [esi]
        mov [mod_word], esi
        mov esi, msg_mod
        call puts
        mov esi, mod_word
        mov byte [mod_word + 4], 0
        call puts
        mov esi, crlf
        call puts
.nomod:
        mov esi, msg_done
        call puts
        mov eax, ebp
        out 0xF4, al
        hlt

; check: ZF set = pass. The test name follows the call (NUL-terminated); returns after it.
check_z:
        ; same as check (kept for readability at call sites testing a clear bit)
check:
        pop esi
        pushfd
        jz .pass
        inc ebp
        push esi
        mov esi, msg_fail
        call puts
        pop esi
        jmp .name
.pass:  push esi
        mov esi, msg_pass
        call puts
        pop esi
.name:  call puts                       ; esi -> after the NUL
        push esi
        mov esi, crlf
        call puts
        pop esi
        popfd
        jmp esi

; puts: prints the NUL-terminated string at esi; leaves esi after the NUL.
puts:   push eax
        push edx
.c:     lodsb
        test al, al
        jz .done
        mov ah, al
        mov dx, COM1 + 5
.w:     in al, dx
        test al, 0x20
        jz .w
        mov al, ah
        mov dx, COM1
        out dx, al
        jmp .c
.done:  pop edx
        pop eax
        ret

want_cmdline: db "hello world"
msg_pass: db "PASS ", 0
msg_fail: db "FAIL ", 0
msg_mod:  db "module starts with: ", 0
msg_done: db "DONE multiboot", 13, 10, 0
crlf:     db 13, 10, 0

        align 16
boot_eax: dd 0
boot_ebx: dd 0
ram_mib:  dd 0
mod_word: dd 0, 0
bss_start:
        times 4096 db 0
stack_top:
bss_end:
