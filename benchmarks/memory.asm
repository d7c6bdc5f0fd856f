; memory.asm - loads and stores through 4 KiB paging (32-bit protected mode): walks a 4 MiB
; buffer mapped by 1024 page-table entries with a 4 KiB + 64 byte stride, so every access is
; on another page (TLB-unfriendly); read-modify-write of a dword per access. PASSES passes
; over the buffer (default 200), 1024 accesses each.
%ifndef PASSES
%define PASSES 200
%endif
bits 16
org 0
PD      equ 0x10000
PT      equ 0x11000
BUF     equ 0x400000
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
    ; PD[0] -> identity 4 MiB via PT at 0x11000? Keep it simple: PDE 0 = 4 MiB identity would need
    ; PSE; use a page table for 0-4 MiB (identity, code and stack live here) and one for the buffer.
    mov edi, PD
    mov ecx, 3 * 1024
    xor eax, eax
    rep stosd
    mov dword [PD], PT | 3                  ; 0 - 4 MiB: identity through PT
    mov dword [PD + 4], (PT + 0x1000) | 3   ; 4 - 8 MiB: the buffer
    mov edi, PT
    mov eax, 3
    mov ecx, 2048                           ; both tables: identity 0 - 8 MiB
.fill:
    stosd
    add eax, 0x1000
    loop .fill
    mov dword [PD + 0x3FC], PD | 3          ; (recursive slot, unused: keeps the walk realistic)
    mov eax, PD
    mov cr3, eax
    mov eax, cr0
    or eax, 0x80000000
    mov cr0, eax
    jmp .paged
.paged:
    mov ebp, PASSES
.pass:
    mov esi, BUF
    mov ecx, 1024
.acc:
    mov eax, [esi]
    add eax, ecx
    mov [esi], eax
    add esi, 0x1000 + 64
    cmp esi, BUF + 0x400000 - 4
    jb .in
    sub esi, 0x400000 - 4
.in:
    dec ecx
    jnz .acc
    dec ebp
    jnz .pass
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
