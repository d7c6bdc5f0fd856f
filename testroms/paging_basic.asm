; paging_basic.asm - 32-bit paging (4 KiB and 4 MiB pages), PAE (4 KiB and 2 MiB pages), A/D bits,
; CR0.WP, #PF error codes (P, W, RSVD, I/D) and CR2, INVLPG, NX.
; Prints PASS/FAIL lines on COM1; exits through port 0xF4 with 0 when every check passed.
bits 16
org 0xF0000

IDT        equ 0x1000
VARS       equ 0x2000
recover    equ VARS + 0        ; where the fault handler resumes
pf_count   equ VARS + 4
pf_code    equ VARS + 8
pf_cr2     equ VARS + 12
pf_vec     equ VARS + 16
fails      equ VARS + 20
PD32       equ 0x10000         ; 32-bit paging: page directory
PT32_0     equ 0x11000         ;   identity map of 0..4 MiB
PT32_2     equ 0x12000         ;   linear 0x800000..
PDPT       equ 0x20000         ; PAE: page-directory-pointer table
PDPAE      equ 0x21000         ;   page directory for 0..1 GiB
PTPAE_0    equ 0x22000         ;   identity map of 0..2 MiB
PTPAE_5    equ 0x23000         ;   linear 0xA00000..

; ---- PASS/FAIL helpers (32-bit) -------------------------------------------------------------
%macro PRINT 1
    jmp %%after
%%msg: db %1, 13, 10, 0
%%after:
    push esi
    mov esi, %%msg
    call puts
    pop esi
%endmacro

; CHECK cc, "name": PASS when condition cc holds (flags from the preceding compare).
%macro CHECK 2
    j%1 %%pass
    push esi
    mov esi, %%fmsg
    call puts
    pop esi
    inc dword [fails]
    jmp %%done
%%fmsg: db "FAIL ", %2, 13, 10, 0
%%pmsg: db "PASS ", %2, 13, 10, 0
%%pass:
    push esi
    mov esi, %%pmsg
    call puts
    pop esi
%%done:
%endmacro

; TRY {instruction}: runs it; a #PF/#GP/#UD resumes after it with pf_count/pf_vec/pf_code/pf_cr2 set.
%macro TRY 1
    mov dword [pf_count], 0
    mov dword [pf_vec], 0xFF
    mov dword [recover], %%rec
    %1
%%rec:
%endmacro

start:
    cli
    xor ax, ax
    mov ss, ax
    mov sp, 0x7000
    o32 lgdt [cs:gdt_desc - $$]
    mov eax, cr0
    or al, 1
    mov cr0, eax
    jmp dword 0x08:pm32

bits 32
pm32:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov esp, 0x7000
    mov dword [fails], 0
    call setup_idt

    PRINT "paging_basic: 32-bit paging"
    ; ---- 32-bit page tables ------------------------------------------------------------------
    mov edi, PD32
    mov ecx, 3 * 1024
    xor eax, eax
    rep stosd                              ; clear PD32, PT32_0, PT32_2
    mov edi, PT32_0
    mov eax, 0x3                           ; identity, supervisor RW
.id32:
    stosd
    add eax, 0x1000
    cmp edi, PT32_0 + 4096
    jne .id32
    mov dword [PD32 + 0 * 4], PT32_0 | 3
    mov dword [PD32 + 2 * 4], PT32_2 | 3   ; 0x800000
    mov dword [PT32_2 + 0 * 4], 0x300000 | 3      ; RW
    mov dword [PT32_2 + 1 * 4], 0x301000 | 1      ; read-only
    mov dword [PT32_2 + 2 * 4], 0                 ; not present
    mov dword [PD32 + 1 * 4], 0x400000 | 0x83     ; 4 MiB identity page for 4..8 MiB
    mov dword [PD32 + 3 * 4], 0x400000 | 0x83     ; 0xC00000: 4 MiB page -> 0x400000
    mov eax, cr4
    or eax, 0x10                           ; PSE
    mov cr4, eax
    mov eax, PD32
    mov cr3, eax
    mov eax, cr0
    or eax, 0x80000000
    mov cr0, eax

    ; 4 KiB mapping
    mov dword [0x800010], 0x12345678
    cmp dword [0x300010], 0x12345678
    CHECK e, "4K page maps linear 0x800000 to physical 0x300000"
    mov eax, [PT32_2]
    and eax, 0x60
    cmp eax, 0x60
    CHECK e, "PTE accessed and dirty after a write"
    mov eax, [0x801000]
    mov eax, [PT32_2 + 4]
    and eax, 0x60
    cmp eax, 0x20
    CHECK e, "PTE accessed but clean after a read"
    mov eax, [PD32 + 2 * 4]
    and eax, 0x20
    cmp eax, 0x20
    CHECK e, "PDE accessed"

    ; 4 MiB mapping
    mov dword [0xC00020], 0xCAFEF00D
    cmp dword [0x400020], 0xCAFEF00D
    CHECK e, "4M page maps linear 0xC00000 to physical 0x400000"
    mov eax, [PD32 + 3 * 4]
    and eax, 0x60
    cmp eax, 0x60
    CHECK e, "4M PDE accessed and dirty"

    ; not-present read / write
    TRY {mov eax, [0x802004]}
    cmp dword [pf_count], 1
    CHECK e, "not-present read faults"
    cmp dword [pf_vec], 14
    CHECK e, "vector is #PF"
    cmp dword [pf_code], 0
    CHECK e, "#PF code 0 for a not-present read"
    cmp dword [pf_cr2], 0x802004
    CHECK e, "CR2 holds the faulting address"
    TRY {mov dword [0x802008], 1}
    cmp dword [pf_code], 2
    CHECK e, "#PF code 2 (W) for a not-present write"
    cmp dword [pf_cr2], 0x802008
    CHECK e, "CR2 after the write fault"

    ; CR0.WP
    TRY {mov dword [0x801004], 0x55}
    cmp dword [pf_count], 0
    CHECK e, "supervisor write to a read-only page with WP=0 succeeds"
    cmp dword [0x301004], 0x55
    CHECK e, "... and reaches memory"
    mov eax, cr0
    or eax, 0x10000
    mov cr0, eax
    TRY {mov dword [0x801008], 0x66}
    cmp dword [pf_count], 1
    CHECK e, "supervisor write to a read-only page with WP=1 faults"
    cmp dword [pf_code], 3
    CHECK e, "#PF code 3 (P|W)"
    cmp dword [pf_cr2], 0x801008
    CHECK e, "CR2 for the protection fault"
    mov eax, cr0
    and eax, ~0x10000
    mov cr0, eax

    ; INVLPG
    mov dword [0x302000], 0xABCD0002
    mov eax, [0x800000]                    ; cache the old translation
    mov dword [PT32_2 + 0 * 4], 0x302000 | 3
    invlpg [0x800000]
    cmp dword [0x800000], 0xABCD0002
    CHECK e, "INVLPG makes the new PTE visible"
    mov dword [PT32_2 + 0 * 4], 0x300000 | 3
    mov eax, cr3                           ; flush by reloading CR3
    mov cr3, eax
    cmp dword [0x800010], 0x12345678
    CHECK e, "CR3 reload flushes the TLB"

    ; ---- PAE ---------------------------------------------------------------------------------
    PRINT "paging_basic: PAE paging and NX"
    mov eax, cr0
    and eax, 0x7FFFFFFF
    mov cr0, eax
    mov edi, PDPT
    mov ecx, (4 * 4096) / 4
    xor eax, eax
    rep stosd                              ; clear PDPT, PDPAE, PTPAE_0, PTPAE_5
    mov edi, PTPAE_0
    mov eax, 0x3
.idpae:
    mov [edi], eax
    mov dword [edi + 4], 0
    add edi, 8
    add eax, 0x1000
    cmp edi, PTPAE_0 + 4096
    jne .idpae
    mov dword [PDPT], PDPAE | 1
    mov dword [PDPAE + 0 * 8], PTPAE_0 | 3
    mov dword [PDPAE + 1 * 8], 0x200000 | 0x83    ; identity 2..4 MiB
    mov dword [PDPAE + 3 * 8], 0x600000 | 0x83    ; identity 6..8 MiB
    mov dword [PDPAE + 4 * 8], 0x600000 | 0x83    ; 0x800000 -> 0x600000 (2 MiB page)
    mov dword [PDPAE + 5 * 8], PTPAE_5 | 7        ; 0xA00000 (U here; PTEs decide)
    mov dword [PTPAE_5 + 0 * 8], 0x300000 | 3
    mov dword [PTPAE_5 + 0 * 8 + 4], 0x80000000   ; NX
    mov dword [PTPAE_5 + 1 * 8], 0x301000 | 3
    mov dword [PTPAE_5 + 1 * 8 + 4], 0x00002000   ; bit 45: reserved (MAXPHYADDR 40)
    mov dword [PTPAE_5 + 2 * 8], 0x302000 | 3     ; executable page
    mov dword [PTPAE_5 + 4 * 8], 0x304000 | 7     ; user page (SMEP/SMAP)
    mov ecx, 0xC0000080                    ; EFER.NXE
    rdmsr
    or eax, 0x800
    wrmsr
    mov eax, cr4
    or eax, 0x20
    mov cr4, eax
    mov eax, PDPT
    mov cr3, eax
    mov eax, cr0
    or eax, 0x80000000
    mov cr0, eax

    mov dword [0x801234], 0x600DBEEF
    cmp dword [0x601234], 0x600DBEEF
    CHECK e, "2M PAE page maps linear 0x800000 to physical 0x600000"
    mov eax, [PDPAE + 4 * 8]
    and eax, 0x60
    cmp eax, 0x60
    CHECK e, "2M PDE accessed and dirty"
    mov dword [0x300040], 0x77
    cmp dword [0xA00040], 0x77
    CHECK e, "4K PAE page, data read from an NX page is allowed"

    TRY {mov eax, [0xA01000]}
    cmp dword [pf_count], 1
    CHECK e, "reserved bit in a PTE faults"
    cmp dword [pf_code], 9
    CHECK e, "#PF code 9 (P|RSVD)"
    cmp dword [pf_cr2], 0xA01000
    CHECK e, "CR2 for the reserved-bit fault"

    mov byte [0x300000], 0xC3              ; ret (never executed: NX)
    mov byte [0x302000], 0xC3              ; ret
    TRY {call 0xA02000}
    cmp dword [pf_count], 0
    CHECK e, "executing from an executable PAE page works"
    mov ebp, esp
    TRY {call 0xA00000}
    mov esp, ebp                           ; the faulting CALL pushed a return address
    cmp dword [pf_count], 1
    CHECK e, "executing from an NX page faults"
    cmp dword [pf_code], 0x11
    CHECK e, "#PF code 0x11 (P|I/D)"
    cmp dword [pf_cr2], 0xA00000
    CHECK e, "CR2 for the instruction fetch fault"
    TRY {mov dword [0xA03000], 1}
    cmp dword [pf_code], 2
    CHECK e, "#PF code 2 for a PAE not-present write"

    ; SMAP / SMEP: supervisor access to a user page
    mov byte [0x304000], 0xC3              ; ret
    mov eax, cr4
    or eax, (1 << 20) | (1 << 21)
    mov cr4, eax
    TRY {mov eax, [0xA04000]}
    cmp dword [pf_code], 1
    CHECK e, "SMAP: supervisor read of a user page raises #PF code 1"
    stac
    TRY {mov eax, [0xA04000]}
    clac
    cmp dword [pf_count], 0
    CHECK e, "SMAP: allowed with EFLAGS.AC set (STAC)"
    mov ebp, esp
    TRY {call 0xA04000}
    mov esp, ebp
    cmp dword [pf_code], 0x11
    CHECK e, "SMEP: supervisor fetch from a user page raises #PF code 0x11"
    mov eax, cr4
    and eax, ~((1 << 20) | (1 << 21))
    mov cr4, eax
    TRY {call 0xA04000}
    cmp dword [pf_count], 0
    CHECK e, "without SMEP the user page is executable by the supervisor"

    jmp finish
%include "lib/pm32_flat_support.inc"
gdt:
    dq 0
    dq 0x00CF9B000000FFFF                  ; 0x08: flat 32-bit code, DPL 0
    dq 0x00CF93000000FFFF                  ; 0x10: flat data, DPL 0
gdt_end:
gdt_desc:
    dw gdt_end - gdt - 1
    dd gdt
idt_desc:
    dw 256 * 8 - 1
    dd IDT

    times 0xFFF0 - ($ - $$) db 0xFF
bits 16
reset:
    jmp 0xF000:(start - 0xF0000)
    times 0x10000 - ($ - $$) db 0xFF
