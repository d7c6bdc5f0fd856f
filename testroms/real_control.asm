; real_control.asm - real-mode control transfer and stack: near/far JMP and CALL (direct,
; register, memory, 16- and 32-bit operand size), RET/RET imm/RETF/RETF imm, Jcc rel8/rel16,
; LOOP/LOOPE/LOOPNE/JCXZ/JECXZ, INT n/INT3/INTO/INT1 and IRET through IVT handlers (frame
; layout, IF cleared), #UD through the IVT (UD2, LOCK on a non-lockable or register form, ARPL)
; with the faulting IP, PUSHA/POPA(D), ENTER/LEAVE (levels 0/1/2), LES/LDS/LSS/LFS, XLAT,
; PUSHF/POPF(D) flag images, PUSH/POP sreg, SP wrap. Expected values follow the SDM; passes
; under QEMU when assembled with -DQEMU (skips ICEBP, on which QEMU TCG hangs, and LOCK MOV,
; which QEMU TCG executes instead of raising #UD).
%include "lib/rom.inc"
[warning -prefix-lock]                     ; the LOCK #UD checks are deliberate

VARS      equ 0x2000           ; RAM (segment 0)
T_COUNT   equ VARS + 0         ; interrupts taken
T_VEC     equ VARS + 2         ; last vector
T_IP      equ VARS + 4         ; IP, CS, FLAGS of the last frame
T_CS      equ VARS + 6
T_FLAGS   equ VARS + 8
T_HFLAGS  equ VARS + 10        ; FLAGS inside the handler
T_SP      equ VARS + 12        ; SP after the frame was pushed
RECOVER   equ VARS + 14        ; nonzero: the handler resumes there (faults)
SCRATCH   equ VARS + 0x20
FARPTR    equ VARS + 0x40
STK_SEG   equ 0x9000

; TRAP_TRY: arm the handlers; TRAP_FAULT_TRY: also make them resume at the matching TRAP_END.
%macro TRAP_TRY 0
    %push trap
    mov word [es:T_COUNT], 0
    mov word [es:T_VEC], 0xFF
    mov word [es:RECOVER], 0
%$insn:
%endmacro
%macro TRAP_FAULT_TRY 0
    %push trap
    mov word [es:T_COUNT], 0
    mov word [es:T_VEC], 0xFF
    mov word [es:RECOVER], %$end
%$insn:
%endmacro
; TRAP_END vector, "name" for a fault (return IP = the instruction)
%macro TRAP_END_FAULT 2
%$end:
    EXPECT16 [es:T_COUNT], 1, {%2, ": one interrupt"}
    EXPECT16 [es:T_VEC], %1, {%2, ": vector"}
    EXPECT16 [es:T_IP], OFS(%$insn), {%2, ": return IP = faulting instruction"}
    %pop
%endmacro
; TRAP_END_TRAP vector, "name" for a trap/INT (return IP = the next instruction)
%macro TRAP_END_TRAP 2
%$end:
    EXPECT16 [es:T_COUNT], 1, {%2, ": one interrupt"}
    EXPECT16 [es:T_VEC], %1, {%2, ": vector"}
    EXPECT16 [es:T_IP], OFS(%$end), {%2, ": return IP = next instruction"}
    %pop
%endmacro

%macro SETVEC 2                        ; vector, handler
    mov word [es:(%1) * 4], OFS(%2)
    mov word [es:(%1) * 4 + 2], cs
%endmacro

main:
    PRINT "real_control: control transfer and stack in real mode"
    xor ax, ax
    mov es, ax
    SETVEC 1, vec1
    SETVEC 3, vec3
    SETVEC 4, vec4
    SETVEC 6, vec6
    SETVEC 0x40, vec40
    SETVEC 0xFF, vecff
    mov al, 0xFF                           ; mask both PICs (QEMU has them; emu ignores the ports)
    out 0x21, al
    out 0xA1, al

; ---- JMP --------------------------------------------------------------------------------------
    xor cx, cx
    jmp short .j1
    inc cx
.j1:
    jmp near .j2
    inc cx
.j2:
    mov bx, OFS(.j3)
    jmp bx
    inc cx
.j3:
    mov word [es:SCRATCH], OFS(.j4)
    jmp word [es:SCRATCH]
    inc cx
.j4:
    EXPECT16 cx, 0, "jmp short/near/reg/mem skip their fall-through"
    jmp 0xEF00:OFS(.j5) + 0x1000           ; same linear address, CS = EF00
.j5:
    mov dx, cs
    jmp 0xF000:OFS(.j5b)                   ; (the library's routines need CS = F000)
.j5b:
    EXPECT16 dx, 0xEF00, "jmp ptr16:16 loads CS"
    mov word [es:FARPTR], OFS(.j6)
    mov word [es:FARPTR + 2], 0xF000
    jmp far [es:FARPTR]
.j6:
    mov ax, cs
    EXPECT16 ax, 0xF000, "jmp m16:16 loads CS"
    mov dword [es:FARPTR], OFS(.j7) + 0x100
    mov word [es:FARPTR + 4], 0xEFF0
    jmp dword far [es:FARPTR]              ; m16:32, offset < 64 KiB
.j7:
    mov dx, cs
    jmp 0xF000:OFS(.j8)
.j8:
    EXPECT16 dx, 0xEFF0, "jmp m16:32 (66 prefix) loads CS"

; ---- Jcc rel8 / rel16 ---------------------------------------------------------------------------
    xor cx, cx
    mov al, 1
    cmp al, 2
    jb .c1
    inc cx
.c1:
    jae near .c2bad
    jl near .c2
.c2bad:
    inc cx
.c2:
    cmp al, 1
    jne .c3bad
    jz .c3
.c3bad:
    inc cx
.c3:
    EXPECT16 cx, 0, "jcc rel8 and rel16 (0F 8x) taken/not taken"

; ---- CALL / RET ---------------------------------------------------------------------------------
    mov ax, ss
    EXPECT16 ax, STK_SEG, "stack segment"
    mov bp, sp
    call near_fn
.r1:
    EXPECT16 [es:SCRATCH], OFS(.r1), "call rel16 pushes the next IP"
    EXPECT16 [es:SCRATCH + 2], bp, "near ret pops it"
    mov bx, OFS(near_fn)
    call bx
.r2:
    EXPECT16 [es:SCRATCH], OFS(.r2), "call r16 pushes the next IP"
    mov word [es:FARPTR], OFS(near_fn)
    call word [es:FARPTR]
.r3:
    EXPECT16 [es:SCRATCH], OFS(.r3), "call m16 pushes the next IP"
    push word 0x1111
    push word 0x2222
    call near_ret4
    mov ax, sp
    EXPECT16 ax, bp, "ret 4 releases two parameters"
    call 0xEF00:OFS(far_fn) + 0x1000
.r4:
    EXPECT16 [es:SCRATCH], OFS(.r4), "call ptr16:16 pushes IP"
    EXPECT16 [es:SCRATCH + 2], 0xF000, "call ptr16:16 pushes CS"
    EXPECT16 [es:SCRATCH + 4], 0xEF00, "far callee runs with the new CS"
    mov ax, cs
    EXPECT16 ax, 0xF000, "retf restores CS"
    mov word [es:FARPTR], OFS(far_fn)
    mov word [es:FARPTR + 2], 0xF000
    call far [es:FARPTR]
.r5:
    EXPECT16 [es:SCRATCH], OFS(.r5), "call m16:16 pushes IP"
    push word 0x3333
    push word 0x4444
    push word 0x5555
    call 0xF000:OFS(far_ret6)
    mov ax, sp
    EXPECT16 ax, bp, "retf 6 releases three parameters"
    call dword near_fn32                   ; 66 E8 rel32 (nasm: not "o32 call", which keeps rel16)
.r6:
    EXPECT32 [es:SCRATCH], OFS(.r6), "o32 call pushes a 32-bit return address"
    mov ax, sp
    EXPECT16 ax, bp, "o32 ret pops 4 bytes"

; ---- LOOP / JCXZ --------------------------------------------------------------------------------
    mov cx, 5
    xor ax, ax
.l1:
    inc ax
    loop .l1
    EXPECT16 ax, 5, "loop runs CX times"
    EXPECT16 cx, 0, "loop ends with CX=0"
    xor cx, cx
    xor eax, eax
.l2:
    inc eax
    loop .l2
    EXPECT32 eax, 0x10000, "loop with CX=0 runs 65536 times"
    mov ecx, 0x00010003
    xor ax, ax
.l3:
    inc ax
    loop .l3
    EXPECT16 ax, 3, "a16 loop counts CX only"
    EXPECT32 ecx, 0x00010000, "a16 loop leaves ECX high half"
    mov ecx, 0x00010000
    xor eax, eax
.l4:
    inc eax
    a32 loop .l4
    EXPECT32 eax, 0x10000, "a32 loop counts ECX"
    ; loope: stop when ZF=0; loopne: stop when ZF=1
    mov cx, 10
    xor bx, bx
.l5:
    inc bx
    cmp bx, 3
    loopne .l5
    EXPECT16 bx, 3, "loopne stops when ZF=1"
    EXPECT16 cx, 7, "loopne CX"
    mov cx, 10
    xor bx, bx
.l6:
    inc bx
    cmp bx, 1
    loope .l6
    EXPECT16 bx, 2, "loope stops when ZF=0"
    EXPECT16 cx, 8, "loope CX"
    mov cx, 3
    xor bx, bx
.l7:
    inc bx
    cmp bx, bx
    loope .l7
    EXPECT16 bx, 3, "loope stops at CX=0 with ZF=1"
    xor cx, cx
    mov ax, 1
    jcxz .z1
    xor ax, ax
.z1:
    EXPECT16 ax, 1, "jcxz taken with CX=0"
    mov ecx, 0x10000
    jcxz .z2
    jecxz .z2
    mov ax, 2
.z2:
    EXPECT16 ax, 1, "jcxz taken, CX=0 though ECX != 0"
    mov ecx, 0x10000
    mov ax, 3
    jecxz .z3
    mov ax, 4
.z3:
    EXPECT16 ax, 4, "jecxz not taken with ECX != 0"

; ---- INT n / IRET, INT3, INTO, INT1 --------------------------------------------------------------
    push word 0x08D7
    popf                                   ; OF SF ZF AF PF CF set, IF=0
    TRAP_TRY
    int 0x40
    TRAP_END_TRAP 0x40, "int 0x40"
    FLAGS_EQ 0x8D5, 0x8D5, "iret restores the flags"
    EXPECT16 [es:T_CS], 0xF000, "int pushes CS"
    EXPECT16 [es:T_FLAGS], 0x08D7, "int pushes FLAGS"
    mov ax, sp
    sub ax, 6
    EXPECT16 [es:T_SP], ax, "int pushes 6 bytes"
    sti
    TRAP_TRY
    int 0x40
    TRAP_END_TRAP 0x40, "int 0x40 with IF=1"
    cli
    mov ax, [es:T_FLAGS]
    and ax, 0x0200
    EXPECT16 ax, 0x0200, "int pushes IF=1"
    mov ax, [es:T_HFLAGS]
    and ax, 0x0300
    EXPECT16 ax, 0x0000, "the handler runs with IF=0 TF=0"
    TRAP_TRY
    int3
    TRAP_END_TRAP 3, "int3 (CC)"
    TRAP_TRY
    int 3
    TRAP_END_TRAP 3, "int 3 (CD 03)"
%ifndef QEMU                               ; (QEMU TCG hangs on ICEBP)
    TRAP_TRY
    db 0xF1                                ; INT1 / ICEBP: #DB trap
    TRAP_END_TRAP 1, "int1 (F1)"
%endif
    mov al, 0x7F
    add al, 1                              ; OF=1
    TRAP_TRY
    into
    TRAP_END_TRAP 4, "into with OF=1"
    mov word [es:T_COUNT], 0
    xor al, al                             ; OF=0
    into
    EXPECT16 [es:T_COUNT], 0, "into with OF=0 does nothing"
    TRAP_TRY
    int 0xFF
    TRAP_END_TRAP 0xFF, "int 0xFF (last IVT entry)"

; ---- #UD through the IVT -------------------------------------------------------------------------
    TRAP_FAULT_TRY
    ud2
    TRAP_END_FAULT 6, "ud2"
    TRAP_FAULT_TRY
    lock nop
    TRAP_END_FAULT 6, "lock nop"
    TRAP_FAULT_TRY
    db 0xF0, 0x01, 0xD8                    ; lock add ax, bx (register destination)
    TRAP_END_FAULT 6, "lock add r16, r16"
%ifndef QEMU                               ; (QEMU TCG executes LOCK MOV without #UD)
    TRAP_FAULT_TRY
    lock mov [es:SCRATCH], ax
    TRAP_END_FAULT 6, "lock mov m16, r16 (not lockable)"
%endif
    TRAP_FAULT_TRY
    arpl [es:SCRATCH], ax
    TRAP_END_FAULT 6, "arpl in real mode"
    mov word [es:SCRATCH], 1
    TRAP_TRY
    lock inc word [es:SCRATCH]
    EXPECT16 [es:T_COUNT], 0, "lock inc m16 is allowed"
    %pop
    EXPECT16 [es:SCRATCH], 2, "lock inc m16 result"

; ---- PUSHA / POPA --------------------------------------------------------------------------------
    mov ax, 0xA1A1
    mov cx, 0xC1C1
    mov dx, 0xD1D1
    mov bx, 0xB1B1
    mov bp, 0xB2B2
    mov si, 0x5151
    mov di, 0xD2D2
    mov [es:SCRATCH], sp
    pusha
    mov bx, sp
    EXPECT16 [ss:bx + 14], 0xA1A1, "pusha: AX pushed first"
    EXPECT16 [ss:bx + 12], 0xC1C1, "pusha: CX"
    mov ax, [es:SCRATCH]
    EXPECT16 [ss:bx + 6], ax, "pusha: the original SP"
    EXPECT16 [ss:bx + 0], 0xD2D2, "pusha: DI pushed last"
    mov word [ss:bx + 6], 0x1234           ; POPA ignores the stored SP
    xor ax, ax
    xor cx, cx
    xor bp, bp
    popa
    EXPECT16 ax, 0xA1A1, "popa: AX"
    EXPECT16 bp, 0xB2B2, "popa: BP"
    mov ax, sp
    EXPECT16 ax, [es:SCRATCH], "popa skips the stored SP"
    mov eax, 0x11111111
    mov edi, 0x77777777
    pushad
    mov bx, sp
    EXPECT32 [ss:bx + 28], 0x11111111, "pushad: EAX"
    EXPECT32 [ss:bx], 0x77777777, "pushad: EDI"
    xor eax, eax
    popad
    EXPECT32 eax, 0x11111111, "popad: EAX"

; ---- ENTER / LEAVE -------------------------------------------------------------------------------
    mov bp, 0x5A5A
    mov [es:SCRATCH], sp
    enter 8, 0
    mov ax, [es:SCRATCH]
    sub ax, 2
    EXPECT16 bp, ax, "enter 8, 0: BP = frame"
    sub ax, 8
    mov cx, sp
    EXPECT16 cx, ax, "enter 8, 0: SP = frame - 8"
    EXPECT16 [ss:bp], 0x5A5A, "enter pushes the old BP"
    leave
    EXPECT16 bp, 0x5A5A, "leave restores BP"
    mov cx, sp
    EXPECT16 cx, [es:SCRATCH], "leave restores SP"
    ; level 2: the outer frame's BP is at SP+... ; set up a fake outer frame
    mov bp, sp
    sub bp, 0x20                           ; outer frame pointer
    mov word [ss:bp - 2], 0xF1F1           ; outer frame's display entry
    mov [es:SCRATCH + 2], bp
    enter 4, 2
    ; stack (high to low): old BP, [old BP - 2], frame pointer, then 4 bytes
    mov ax, [es:SCRATCH]
    sub ax, 2
    EXPECT16 bp, ax, "enter 4, 2: BP = frame"
    mov cx, [es:SCRATCH + 2]
    EXPECT16 [ss:bp], cx, "enter 4, 2: old BP"
    EXPECT16 [ss:bp - 2], 0xF1F1, "enter 4, 2: copies the outer display entry"
    EXPECT16 [ss:bp - 4], bp, "enter 4, 2: pushes the frame pointer"
    sub ax, 8
    mov cx, sp
    EXPECT16 cx, ax, "enter 4, 2: SP"
    leave
    mov cx, sp
    EXPECT16 cx, [es:SCRATCH], "leave after enter 4, 2"
    mov bp, 0x1357
    enter 0, 1
    mov ax, [es:SCRATCH]
    sub ax, 2
    EXPECT16 bp, ax, "enter 0, 1: BP"
    EXPECT16 [ss:bp - 2], bp, "enter 0, 1: pushes the frame pointer"
    leave
    EXPECT16 bp, 0x1357, "leave after enter 0, 1"

; ---- far pointer loads, XLAT --------------------------------------------------------------------
    mov word [es:FARPTR], 0x1234
    mov word [es:FARPTR + 2], 0x5678
    push es
    les bx, [es:FARPTR]
    mov ax, es
    pop es
    EXPECT16 bx, 0x1234, "les offset"
    EXPECT16 ax, 0x5678, "les segment"
    push ds
    lds si, [es:FARPTR]
    mov ax, ds
    pop ds
    EXPECT16 si, 0x1234, "lds offset"
    EXPECT16 ax, 0x5678, "lds segment"
    lfs di, [es:FARPTR]
    mov ax, fs
    EXPECT16 ax, 0x5678, "lfs segment"
    mov dword [es:FARPTR], 0x0000FFF0
    mov word [es:FARPTR + 4], 0x8000
    lgs edi, [es:FARPTR]
    EXPECT32 edi, 0xFFF0, "lgs r32, m16:32 offset"
    mov ax, gs
    EXPECT16 ax, 0x8000, "lgs r32, m16:32 segment"
    mov word [es:FARPTR], 0xFF00
    mov word [es:FARPTR + 2], 0x7000
    mov [es:SCRATCH], sp
    mov [es:SCRATCH + 2], ss
    lss sp, [es:FARPTR]
    mov ax, ss
    mov cx, sp
    mov ss, [es:SCRATCH + 2]
    mov sp, [es:SCRATCH]
    EXPECT16 ax, 0x7000, "lss segment"
    EXPECT16 cx, 0xFF00, "lss offset"
    mov bx, OFS(xlat_table)
    mov ax, 3
    xlatb                                  ; DS = CS = F000
    EXPECT16 ax, 0x0033, "xlat DS:[BX + AL]"
    mov dword [es:SCRATCH], 0x44332211
    mov bx, SCRATCH
    mov ax, 2
    es xlatb
    EXPECT16 ax, 0x0033, "es xlat"

; ---- PUSHF / POPF ---------------------------------------------------------------------------------
    push word 0xFCD7                       ; all but TF and IF, incl. IOPL, NT and bit 15
    popf
    pushf
    pop ax
    cld
    EXPECT16 ax, 0x7CD7, "popf/pushf: IOPL and NT settable in real mode, bit 15 reads 0"
    push word 0
    popf
    pushf
    pop ax
    EXPECT16 ax, 0x0002, "popf 0: bit 1 always reads 1"
    push dword 0x00240000                  ; AC (18) and ID (21)
    popfd
    pushfd
    pop eax
    and eax, 0x00240000
    EXPECT32 eax, 0x00240000, "popfd sets AC and ID"
    push dword 0x00020000                  ; VM: not changed by POPFD in real mode
    popfd
    pushfd
    pop eax
    and eax, 0x00020000
    EXPECT32 eax, 0, "popfd does not set VM"
    push word 0
    popf

; ---- segment registers and the stack ----------------------------------------------------------------
    push cs
    pop ax
    EXPECT16 ax, 0xF000, "push cs"
    mov ax, 0x1234
    mov fs, ax
    push fs
    pop gs
    mov ax, gs
    EXPECT16 ax, 0x1234, "push fs / pop gs"
    mov cx, sp
    o32 push fs                            ; 32-bit push of a segment register: 4 bytes
    mov dx, sp
    add sp, 4
    sub cx, dx
    EXPECT16 cx, 4, "o32 push fs moves SP by 4"
    mov [es:SCRATCH], sp
    mov sp, 0                              ; wrap: push at SP=0 writes SS:FFFE
    push word 0xBEEF
    mov cx, sp
    mov ax, [ss:0xFFFE]
    pop dx
    mov bx, sp
    mov sp, [es:SCRATCH]
    EXPECT16 cx, 0xFFFE, "push at SP=0 wraps to FFFE"
    EXPECT16 ax, 0xBEEF, "push at SP=0 stores at SS:FFFE"
    EXPECT16 bx, 0x0000, "pop at SP=FFFE wraps to 0"

    FINISH

; ---- subroutines --------------------------------------------------------------------------------------
near_fn:                                    ; records [SP] and SP after the return
    push bx
    mov bx, sp
    mov bx, [ss:bx + 2]
    mov [es:SCRATCH], bx
    pop bx
    push ax
    mov ax, sp
    add ax, 4
    mov [es:SCRATCH + 2], ax
    pop ax
    ret
near_ret4:
    ret 4
far_fn:
    push bx
    mov bx, sp
    push ax
    mov ax, [ss:bx + 2]
    mov [es:SCRATCH], ax
    mov ax, [ss:bx + 4]
    mov [es:SCRATCH + 2], ax
    mov ax, cs
    mov [es:SCRATCH + 4], ax
    pop ax
    pop bx
    retf
far_ret6:
    retf 6
near_fn32:
    push ebx
    mov bx, sp
    mov ebx, [ss:bx + 4]
    mov [es:SCRATCH], ebx
    pop ebx
    o32 ret

xlat_table: db 0x00, 0x11, 0x22, 0x33, 0x44

; ---- interrupt handlers: vector in AL, then the common body --------------------------------------------
vec1:
    push ax
    mov al, 1
    jmp vec_common
vec3:
    push ax
    mov al, 3
    jmp vec_common
vec4:
    push ax
    mov al, 4
    jmp vec_common
vec6:
    push ax
    mov al, 6
    jmp vec_common
vec40:
    push ax
    mov al, 0x40
    jmp vec_common
vecff:
    push ax
    mov al, 0xFF
vec_common:                                 ; [bp+2] AX, [bp+4] IP, [bp+6] CS, [bp+8] FLAGS
    push bp
    mov bp, sp
    push bx
    push es
    pushf
    pop bx
    push bx
    xor bx, bx
    mov es, bx
    pop bx
    mov [es:T_HFLAGS], bx
    xor ah, ah
    mov [es:T_VEC], ax
    mov bx, [bp + 4]
    mov [es:T_IP], bx
    mov bx, [bp + 6]
    mov [es:T_CS], bx
    mov bx, [bp + 8]
    mov [es:T_FLAGS], bx
    lea bx, [bp + 4]
    mov [es:T_SP], bx
    inc word [es:T_COUNT]
    mov bx, [es:RECOVER]
    test bx, bx
    jz .ret
    mov [bp + 4], bx
.ret:
    pop es
    pop bx
    pop bp
    pop ax
    iret
