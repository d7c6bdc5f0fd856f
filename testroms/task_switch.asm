; task_switch.asm - hardware task switches through 32-bit TSSs: JMP to a TSS and back (busy bits,
; register save/restore, CR0.TS), CALL with NT and the back link and IRET back, a task gate in the
; GDT, #GP for busy tasks, INT and #GP through IDT task gates (error code on the new stack), and
; the TSS T bit. Prints PASS/FAIL lines on COM1; exits through port 0xF4 with 0 on success.
bits 16
org 0xF0000

; ---- memory map (RAM) ------------------------------------------------------------------------
GDT_RAM    equ 0x0800          ; the GDT is copied here (accessed/busy bits are written)
IDT        equ 0x1000          ; 256 x 8-byte gates
VARS       equ 0x2000
exc_vec    equ VARS + 0        ; vector of the last exception taken (0xFF: none)
exc_code   equ VARS + 4        ; its error code (NOCODE: none pushed)
exc_count  equ VARS + 8
recover    equ VARS + 12       ; where the handler resumes (0: unexpected -> FAIL and exit)
fails      equ VARS + 16
exc_eip    equ VARS + 20       ; EIP and CS of the frame
exc_cs     equ VARS + 24
exc_esp    equ VARS + 28       ; ESP inside the handler (after the frame)
scratch    equ VARS + 0x40
KSTACK     equ 0x7000
NOCODE     equ 0xEEEEEEEE

; ---- PASS/FAIL helpers -----------------------------------------------------------------------
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

; TRY ... ENDTRY: runs the instructions between; an exception resumes after them with
; exc_vec/exc_code set (exc_vec = 0xFF when none was taken).
%macro TRY 0
    %push try
    mov dword [exc_vec], 0xFF
    mov dword [exc_code], NOCODE
    mov dword [recover], %$rec
%endmacro
%macro ENDTRY 0
%$rec:
    mov dword [recover], 0
    %pop
%endmacro

; EXPECT vector, code, "name": the last TRY raised exactly this exception and error code.
%macro EXPECT 3
    cmp dword [exc_vec], %1
    jne %%bad
    cmp dword [exc_code], %2
    je %%good
%%bad:
    push esi
    mov esi, %%fmsg
    call puts
    pop esi
    inc dword [fails]
    push eax
    mov eax, [exc_vec]
    call print_hex
    mov eax, [exc_code]
    call print_hex
    pop eax
    PRINT "<- vector, code taken"
    jmp %%done
%%fmsg: db "FAIL ", %3, 13, 10, 0
%%pmsg: db "PASS ", %3, 13, 10, 0
%%good:
    push esi
    mov esi, %%pmsg
    call puts
    pop esi
%%done:
%endmacro

; NOFAULT "name": the last TRY raised nothing.
%macro NOFAULT 1
    cmp dword [exc_vec], 0xFF
    CHECK e, %1
%endmacro

start:
    cli
    xor ax, ax
    mov ss, ax
    mov sp, KSTACK
    o32 lgdt [cs:gdt_rom_desc - $$]
    mov eax, cr0
    or al, 1
    mov cr0, eax
    jmp dword 0x08:pm32

bits 32
pm32:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov fs, ax
    mov gs, ax
    mov ss, ax
    mov esp, KSTACK
    cld
    mov esi, gdt
    mov edi, GDT_RAM
    mov ecx, (gdt_end - gdt) / 4
    rep movsd
    lgdt [gdt_ram_desc]
    mov edi, VARS
    mov ecx, 0x100
    xor eax, eax
    rep stosd
    mov dword [exc_vec], 0xFF
    call setup_idt
    lidt [idt_desc]
    jmp main
TSS_A      equ 0x3000
TSS_B      equ 0x3100
TSS_C      equ 0x3200
TSS_D      equ 0x3300
TSS_E      equ 0x3400
TSS_F      equ 0x3500
b_tr       equ VARS + 0x80
b_flags    equ VARS + 0x84
b_ebx      equ VARS + 0x88
b_busy_a   equ VARS + 0x8C
b_busy_b   equ VARS + 0x90
c_tr       equ VARS + 0x94
c_flags    equ VARS + 0x98
c_link     equ VARS + 0x9C
c_busy_a   equ VARS + 0xA0
c_count    equ VARS + 0xA4
d_link     equ VARS + 0xA8
d_flags    equ VARS + 0xAC
e_code     equ VARS + 0xB0
e_tr       equ VARS + 0xB4
f_ran      equ VARS + 0xB8
db_vec     equ VARS + 0xBC
db_eip     equ VARS + 0xC0
db_dr6     equ VARS + 0xC4
db_tr      equ VARS + 0xC8

; init_tss: EDI = TSS base, EBX = EIP, EDX = ESP
init_tss:
    push edi
    push ecx
    push eax
    mov ecx, 26
    xor eax, eax
    rep stosd
    pop eax
    pop ecx
    pop edi
    mov [edi + 0x20], ebx
    mov dword [edi + 0x24], 2
    mov [edi + 0x38], edx
    mov dword [edi + 0x48], 0x10
    mov dword [edi + 0x4C], 0x08
    mov dword [edi + 0x50], 0x10
    mov dword [edi + 0x54], 0x10
    mov dword [edi + 0x58], 0x10
    mov dword [edi + 0x5C], 0x10
    mov word [edi + 0x66], 104
    ret

; ---- tests -----------------------------------------------------------------------------------
main:
    mov edi, TSS_A
    mov ebx, 0
    mov edx, KSTACK
    call init_tss
    mov edi, TSS_B
    mov ebx, task_b
    mov edx, 0x5000
    call init_tss
    mov dword [TSS_B + 0x34], 0x1234
    mov edi, TSS_C
    mov ebx, task_c
    mov edx, 0x4C00
    call init_tss
    mov edi, TSS_D
    mov ebx, task_d
    mov edx, 0x4800
    call init_tss
    mov edi, TSS_E
    mov ebx, task_e
    mov edx, 0x4400
    call init_tss
    mov edi, TSS_F
    mov ebx, task_f
    mov edx, 0x4000
    call init_tss
    mov word [TSS_F + 0x64], 1             ; T bit
    mov ax, 0x18
    ltr ax

    ; JMP to a TSS and back.
    mov ebx, 0xA5A5
    jmp 0x20:0
    cmp ebx, 0xA5A5
    CHECK e, "JMP back to task A restores its registers"
    cmp dword [b_tr], 0x20
    CHECK e, "JMP to a TSS loads TR"
    test dword [b_flags], 0x4000
    CHECK z, "JMP to a task leaves NT clear"
    cmp dword [b_ebx], 0x1234
    CHECK e, "task B starts with its TSS registers"
    cmp byte [b_busy_a], 0x89
    CHECK e, "JMP clears the busy bit of the old task"
    cmp byte [b_busy_b], 0x8B
    CHECK e, "JMP sets the busy bit of the new task"
    cmp byte [GDT_RAM + 0x18 + 5], 0x8B
    CHECK e, "task A busy again after the JMP back"
    cmp byte [GDT_RAM + 0x20 + 5], 0x89
    CHECK e, "task B no longer busy"
    smsw ax
    test ax, 8
    CHECK nz, "a task switch sets CR0.TS"
    clts
    cmp dword [TSS_B + 0x34], 0x5A5A
    CHECK e, "the old task's EBX is saved in its TSS"

    ; CALL to a TSS, IRET back through NT.
    call 0x28:0
    cmp dword [c_tr], 0x28
    CHECK e, "CALL to a TSS loads TR"
    test dword [c_flags], 0x4000
    CHECK nz, "CALL to a task sets NT"
    cmp dword [c_link], 0x18
    CHECK e, "CALL writes the back link"
    cmp byte [c_busy_a], 0x8B
    CHECK e, "CALL keeps the calling task busy"
    pushfd
    pop eax
    test eax, 0x4000
    CHECK z, "IRET back: NT clear in the caller"
    cmp byte [GDT_RAM + 0x28 + 5], 0x89
    CHECK e, "IRET clears the busy bit of the nested task"
    cmp dword [c_count], 1
    CHECK e, "nested task ran once"
    ; Through a task gate in the GDT.
    call 0x30:0
    cmp dword [c_count], 2
    CHECK e, "CALL through a task gate runs the task again (after its IRET)"
    ; Busy tasks cannot be entered.
    TRY
    jmp 0x18:0
    ENDTRY
    EXPECT 13, 0x18, "JMP to the busy current task: #GP(selector)"
    TRY
    call 0x18:0
    ENDTRY
    EXPECT 13, 0x18, "CALL to a busy task: #GP(selector)"

    ; INT through a task gate in the IDT.
    mov eax, 0x60
    mov ebx, 0
    mov ecx, 0x38 | (0x85 << 16)
    call set_gate
    int 0x60
    cmp dword [d_link], 0x18
    CHECK e, "INT through a task gate: back link"
    test dword [d_flags], 0x4000
    CHECK nz, "INT through a task gate: NT set"

    ; An exception through a task gate: the error code is pushed on the new task's stack.
    mov eax, 13
    mov ebx, 0
    mov ecx, 0x40 | (0x85 << 16)
    call set_gate
    TRY
    mov ax, 0x68
    mov es, ax
    ENDTRY
    cmp dword [e_code], 0x68
    CHECK e, "#GP through a task gate: error code on the handler task's stack"
    cmp dword [e_tr], 0x40
    CHECK e, "#GP through a task gate runs in the gate's task"
    mov eax, 13
    mov ebx, stubs + 13 * 10
    mov ecx, 0x08 | (0x8E << 16)
    call set_gate

    ; T bit: #DB on entry to the new task.
    mov eax, 1
    mov ebx, db_handler
    mov ecx, 0x08 | (0x8E << 16)
    call set_gate
    call 0x48:0
    cmp dword [db_vec], 1
    CHECK e, "TSS T bit raises #DB on task entry"
    cmp dword [db_eip], task_f
    CHECK e, "... before the new task's first instruction"
    cmp dword [db_tr], 0x48
    CHECK e, "... in the new task"
    test dword [db_dr6], 0x8000
    CHECK nz, "... with DR6.BT set"
    cmp dword [f_ran], 1
    CHECK e, "task F ran after the #DB handler"
    jmp finish

task_b:
    str ax
    movzx eax, ax
    mov [b_tr], eax
    pushfd
    pop eax
    mov [b_flags], eax
    mov [b_ebx], ebx
    movzx eax, byte [GDT_RAM + 0x18 + 5]
    mov [b_busy_a], eax
    movzx eax, byte [GDT_RAM + 0x20 + 5]
    mov [b_busy_b], eax
    mov ebx, 0x5A5A
    jmp 0x18:0
    jmp task_b

task_c:
    str ax
    movzx eax, ax
    mov [c_tr], eax
    pushfd
    pop eax
    mov [c_flags], eax
    movzx eax, word [TSS_C]
    mov [c_link], eax
    movzx eax, byte [GDT_RAM + 0x18 + 5]
    mov [c_busy_a], eax
    inc dword [c_count]
    iretd
    jmp task_c

task_d:
    movzx eax, word [TSS_D]
    mov [d_link], eax
    pushfd
    pop eax
    mov [d_flags], eax
    iretd
    jmp task_d

task_e:
    pop eax
    mov [e_code], eax
    str ax
    movzx eax, ax
    mov [e_tr], eax
    mov eax, [recover]
    mov [TSS_A + 0x20], eax                ; resume task A after the faulting instruction
    iretd
    jmp task_e

task_f:
    mov dword [f_ran], 1
    iretd
    jmp task_f

db_handler:
    mov dword [db_vec], 1
    push eax
    mov eax, [esp + 4]
    mov [db_eip], eax
    mov eax, dr6
    mov [db_dr6], eax
    str ax
    movzx eax, ax
    mov [db_tr], eax
    pop eax
    iretd

align 8
gdt:
    dq 0
    dq 0x00CF9A000000FFFF                  ; 0x08: flat code
    dq 0x00CF92000000FFFF                  ; 0x10: flat data
    dq 0x0000890030000067                  ; 0x18: TSS A
    dq 0x0000890031000067                  ; 0x20: TSS B
    dq 0x0000890032000067                  ; 0x28: TSS C
    dq 0x0000850000280000                  ; 0x30: task gate -> TSS C
    dq 0x0000890033000067                  ; 0x38: TSS D (IDT task gate 0x60)
    dq 0x0000890034000067                  ; 0x40: TSS E (#GP task gate)
    dq 0x0000890035000067                  ; 0x48: TSS F (T bit)
gdt_end:
GDT_LIMIT equ gdt_end - gdt - 1

; ---- support ---------------------------------------------------------------------------------
puts:                                      ; ESI -> NUL-terminated string
    push eax
    push edx
.next:
    lodsb
    test al, al
    jz .done
    mov ah, al
    mov dx, 0x3FD
.wait:
    in al, dx
    test al, 0x20
    jz .wait
    mov al, ah
    mov dx, 0x3F8
    out dx, al
    jmp .next
.done:
    pop edx
    pop eax
    ret

print_hex:                                 ; EAX as 8 hex digits and a space
    pushad
    mov ecx, 8
    mov edi, scratch
.digit:
    rol eax, 4
    mov ebx, eax
    and ebx, 0xF
    mov bl, [hexdigits + ebx]
    mov [edi], bl
    inc edi
    loop .digit
    mov word [edi], 0x20
    mov esi, scratch
    call puts
    popad
    ret
hexdigits: db "0123456789ABCDEF"

; set_gate: EAX = vector, EBX = handler offset, ECX = selector | (access byte << 16)
set_gate:
    push edx
    lea edx, [IDT + eax * 8]
    mov [edx], bx
    mov [edx + 2], cx
    shr ecx, 16
    mov byte [edx + 4], 0
    mov [edx + 5], cl
    shr ebx, 16
    mov [edx + 6], bx
    pop edx
    ret

setup_idt:                                 ; vectors 0..31 -> stubs, the rest -> unexpected
    xor eax, eax
.all:
    mov ebx, unexpected
    cmp eax, 32
    jae .set
    lea ebx, [stubs + eax * 8]
    lea ebx, [ebx + eax * 2]               ; stubs are 10 bytes
.set:
    mov ecx, 0x08 | (0x8E << 16)           ; DPL0 32-bit interrupt gate
    call set_gate
    inc eax
    cmp eax, 256
    jne .all
    ret

stubs:
%assign i 0
%rep 32
    push strict dword i
    jmp near exc_entry
%assign i i + 1
%endrep

exc_entry:                                 ; [esp] = vector, then the error code if any
    push eax
    push ebx
    mov eax, [esp + 8]
    mov [exc_vec], eax
    mov ebx, 0x27D00                       ; vectors with an error code: 8, 10-14, 17
    bt ebx, eax
    jc .code
    mov dword [exc_code], NOCODE
    pop ebx
    pop eax
    add esp, 4
    jmp .frame
.code:
    mov ebx, [esp + 12]
    mov [exc_code], ebx
    pop ebx
    pop eax
    add esp, 8
.frame:
    push eax
    mov eax, [esp + 4]
    mov [exc_eip], eax
    mov eax, [esp + 8]
    mov [exc_cs], eax
    lea eax, [esp + 4]
    mov [exc_esp], eax
    inc dword [exc_count]
    mov eax, [recover]
    test eax, eax
    jz unexpected_exc
    mov [esp + 4], eax
    pop eax
    iretd

unexpected_exc:
    PRINT "FAIL unexpected exception (vector, code, eip):"
    mov eax, [exc_vec]
    call print_hex
    mov eax, [exc_code]
    call print_hex
    mov eax, [exc_eip]
    call print_hex
    PRINT ""
    mov al, 1
    out 0xF4, al
    hlt

unexpected:
    PRINT "FAIL unexpected interrupt"
    mov al, 1
    out 0xF4, al
    hlt

finish:
    cmp dword [fails], 0
    jne .bad
    PRINT "done: all checks passed"
    mov al, 0
    out 0xF4, al
    hlt
.bad:
    PRINT "FAIL some checks failed"
    mov al, 1
    out 0xF4, al
    hlt

gdt_rom_desc:
    dw gdt_end - gdt - 1
    dd gdt
gdt_ram_desc:
    dw GDT_LIMIT
    dd GDT_RAM
idt_desc:
    dw 256 * 8 - 1
    dd IDT

    times 0xFFF0 - ($ - $$) db 0xFF
bits 16
reset:
    jmp 0xF000:(start - 0xF0000)
    times 0x10000 - ($ - $$) db 0xFF
