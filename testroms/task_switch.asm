; task_switch.asm - hardware task switches through 32-bit TSSs: JMP to a TSS and back (busy bits,
; register save/restore, CR0.TS), CALL with NT and the back link and IRET back, a task gate in the
; GDT, #GP for busy tasks, INT and #GP through IDT task gates (error code on the new stack), and
; the TSS T bit. Prints PASS/FAIL lines on COM1; exits through port 0xF4 with 0 on success.
%include "lib/pm32_prologue.inc"
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
    dq 0x00CF9B000000FFFF                  ; 0x08: flat code
    dq 0x00CF93000000FFFF                  ; 0x10: flat data
    dq 0x0000890030000067                  ; 0x18: TSS A
    dq 0x0000890031000067                  ; 0x20: TSS B
    dq 0x0000890032000067                  ; 0x28: TSS C
    dq 0x0000850000280000                  ; 0x30: task gate -> TSS C
    dq 0x0000890033000067                  ; 0x38: TSS D (IDT task gate 0x60)
    dq 0x0000890034000067                  ; 0x40: TSS E (#GP task gate)
    dq 0x0000890035000067                  ; 0x48: TSS F (T bit)
gdt_end:
GDT_LIMIT equ gdt_end - gdt - 1

%include "lib/pm32_support.inc"

    times 0xFFF0 - ($ - $$) db 0xFF
bits 16
reset:
    jmp 0xF000:(start - 0xF0000)
    times 0x10000 - ($ - $$) db 0xFF
