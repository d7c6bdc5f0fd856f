; real_string.asm - real-mode string instructions: MOVS/STOS/LODS/CMPS/SCAS byte/word/dword,
; REP with CX=0, REPE/REPNE termination (count, pointers, flags), DF=1 (backwards, overlapping
; copies), segment overrides on the source (and their absence on the ES:DI destination),
; 16-bit SI/DI wrap at 0xFFFF in both directions, and 32-bit address size (ECX/ESI/EDI).
; Expected values follow the SDM; also passes under QEMU.
%include "lib/rom.inc"

SRC_SEG equ 0x2000             ; DS: source buffer (RAM 0x20000)
DST_SEG equ 0x3000             ; ES: destination buffer (RAM 0x30000)
ALT_SEG equ 0x4000             ; FS: alternative source (RAM 0x40000)

main:
    PRINT "real_string: string instructions in real mode"
    mov ax, SRC_SEG
    mov ds, ax
    mov ax, DST_SEG
    mov es, ax
    mov ax, ALT_SEG
    mov fs, ax
    cld

; ---- STOS ---------------------------------------------------------------------------------
    xor di, di
    xor ax, ax
    mov cx, 0x8000
    rep stosw                              ; clear ES:0000-FFFF
    EXPECT16 di, 0x0000, "rep stosw 0x8000 words wraps DI to 0"
    EXPECT16 cx, 0, "rep stosw counts CX down to 0"
    push es
    push ds
    pop es
    mov cx, 0x8000
    rep stosw                              ; clear DS:0000-FFFF
    push fs
    pop es
    mov ax, 0xF5F5
    mov cx, 0x8000
    rep stosw                              ; FS:0000-FFFF = F5
    pop es
    mov di, 0x10
    mov al, 0xAA
    stosb
    EXPECT16 di, 0x11, "stosb advances DI by 1"
    mov ax, 0xBBCC
    stosw
    EXPECT16 di, 0x13, "stosw advances DI by 2"
    mov eax, 0x11223344
    stosd
    EXPECT16 di, 0x17, "stosd advances DI by 4"
    EXPECT32 [es:0x10], 0x44BBCCAA, "stos b/w/d stored in order"
    EXPECT16 [es:0x15], 0x1122, "stosd high word"
    std
    mov di, 0x30
    mov ax, 0x5566
    stosw
    cld
    EXPECT16 di, 0x2E, "stosw with DF=1 decrements DI by 2"
    EXPECT16 [es:0x30], 0x5566, "stosw with DF=1 stores at the old DI"
    mov di, 0x40
    mov al, 0x77
    mov cx, 0
    rep stosb
    EXPECT16 di, 0x40, "rep stosb with CX=0 does nothing"
    EXPECT16 [es:0x40], 0x0000, "rep stosb with CX=0 stores nothing"
    mov cx, 5
    rep stosb
    EXPECT16 cx, 0, "rep stosb 5: CX=0"
    EXPECT16 di, 0x45, "rep stosb 5: DI"
    EXPECT32 [es:0x41], 0x77777777, "rep stosb 5: bytes"
    EXPECT16 [es:0x45], 0x0000, "rep stosb 5 stops after 5 bytes"
    mov di, 0x50
    mov eax, 0xCAFEF00D
    mov cx, 3
    rep stosd
    EXPECT16 di, 0x5C, "rep stosd 3: DI"
    EXPECT32 [es:0x58], 0xCAFEF00D, "rep stosd 3: last dword"
    mov di, 0x60
    mov al, 0x99
    fs stosb                               ; the destination is always ES:DI
    EXPECT16 [es:0x60], 0x0099, "fs stosb still writes ES:DI"
    cmp byte [fs:0x60], 0xF5
    CHECK e, "fs stosb leaves FS:DI"

; ---- LODS ---------------------------------------------------------------------------------
    mov dword [ds:0x100], 0x87654321
    mov dword [ds:0x104], 0xA5A5A5A5
    mov si, 0x100
    mov eax, 0xFFFFFFFF
    lodsb
    EXPECT32 eax, 0xFFFFFF21, "lodsb loads AL only"
    EXPECT16 si, 0x101, "lodsb advances SI"
    lodsw
    EXPECT32 eax, 0xFFFF6543, "lodsw loads AX"
    lodsd
    EXPECT32 eax, 0xA5A5A587, "lodsd loads EAX (unaligned)"
    EXPECT16 si, 0x107, "lodsd advances SI by 4"
    std
    lodsw
    cld
    EXPECT16 ax, 0x00A5, "lodsw with DF=1"
    EXPECT16 si, 0x105, "lodsw with DF=1 decrements SI"
    mov si, 0x100
    mov cx, 4
    rep lodsb
    EXPECT16 ax, 0x0087, "rep lodsb leaves the last byte in AL"
    EXPECT16 si, 0x104, "rep lodsb 4: SI"
    mov si, 0x10
    es lodsw                               ; source segment override
    EXPECT16 ax, 0xCCAA, "es lodsw reads ES:SI"
    mov si, 0x10
    cs lodsb
    mov bl, [cs:0x10]
    cmp al, bl
    CHECK e, "cs lodsb reads the ROM"
    mov si, 0x10
    fs lodsw
    EXPECT16 ax, 0xF5F5, "fs lodsw reads FS:SI"

; ---- MOVS ---------------------------------------------------------------------------------
    ; DS:0200.. = 00 01 02 ... 3F
    mov bx, 0x200
    xor al, al
.fill:
    mov [ds:bx], al
    inc bx
    inc al
    cmp al, 0x40
    jne .fill
    mov si, 0x200
    mov di, 0x200
    movsb
    EXPECT16 si, 0x201, "movsb advances SI"
    EXPECT16 di, 0x201, "movsb advances DI"
    movsw
    movsd
    EXPECT16 di, 0x207, "movsw + movsd advance DI by 6"
    EXPECT32 [es:0x203], 0x06050403, "movsd copied DS:SI to ES:DI"
    mov si, 0x200
    mov di, 0x300
    mov cx, 8
    rep movsw
    EXPECT16 [es:0x30E], 0x0F0E, "rep movsw copies the last word"
    EXPECT16 si, 0x210, "rep movsw 8: SI"
    EXPECT16 di, 0x310, "rep movsw 8: DI"
    EXPECT16 [es:0x310], 0x0000, "rep movsw stops after 8 words"
    mov si, 0x200
    mov di, 0x400
    mov cx, 4
    rep movsd
    EXPECT32 [es:0x40C], 0x0F0E0D0C, "rep movsd 4: last dword"
    ; backwards (DF=1): copy 10 bytes ending at 0x209 to ES:0x509
    std
    mov si, 0x209
    mov di, 0x509
    mov cx, 10
    rep movsb
    cld
    EXPECT16 si, 0x1FF, "rep movsb DF=1: SI ends below the block"
    EXPECT16 di, 0x4FF, "rep movsb DF=1: DI ends below the block"
    EXPECT32 [es:0x500], 0x03020100, "rep movsb DF=1: first bytes"
    EXPECT16 [es:0x508], 0x0908, "rep movsb DF=1: last bytes"
    EXPECT16 [es:0x4FE], 0x0000, "rep movsb DF=1 stops at the block start"
    ; overlapping forward copy within DS (ES = DS): byte-by-byte propagation
    push es
    push ds
    pop es
    mov si, 0x200
    mov di, 0x201
    mov cx, 8
    rep movsb
    pop es
    EXPECT32 [ds:0x200], 0x00000000, "overlapping rep movsb propagates the first byte"
    EXPECT32 [ds:0x205], 0x00000000, "overlapping rep movsb reaches 0x208"
    EXPECT16 [ds:0x209], 0x0A09, "overlapping rep movsb stops"
    ; source segment override
    mov si, 0x0
    mov di, 0x600
    mov cx, 2
    fs rep movsw
    EXPECT32 [es:0x600], 0xF5F5F5F5, "fs rep movsw reads FS:SI"
    mov dword [es:0x700], 0x12345678
    push es
    push ds
    pop es                                 ; ES = DS now; read the old ES via GS
    mov ax, DST_SEG
    mov gs, ax
    mov si, 0x700
    mov di, 0x700
    gs movsd                               ; GS:0700 -> ES(=DS):0700
    pop es
    EXPECT32 [ds:0x700], 0x12345678, "gs movsd copies GS:SI to ES:DI"

; ---- CMPS ---------------------------------------------------------------------------------
    ; DS:0800 = 10 20 30 40 50 60 70 80; ES:0800 = 10 20 30 41 50 60 70 80
    mov dword [ds:0x800], 0x40302010
    mov dword [ds:0x804], 0x80706050
    mov dword [es:0x800], 0x41302010
    mov dword [es:0x804], 0x80706050
    mov si, 0x800
    mov di, 0x800
    cmpsb
    FLAGS_EQ 0x8D5, 0x044, "cmpsb equal: ZF PF"
    mov si, 0x803
    mov di, 0x803
    cmpsb                                  ; 40 - 41: DS:SI minus ES:DI
    FLAGS_EQ 0x8D5, 0x095, "cmpsb 40 - 41: CF AF SF PF"
    mov si, 0x800
    mov di, 0x800
    mov cx, 8
    repe cmpsb
    FLAGS_EQ 0x040, 0x000, "repe cmpsb stops on a difference with ZF=0"
    EXPECT16 cx, 4, "repe cmpsb: CX after the 4th compare"
    EXPECT16 si, 0x804, "repe cmpsb: SI one past the difference"
    EXPECT16 di, 0x804, "repe cmpsb: DI one past the difference"
    mov si, 0x804
    mov di, 0x804
    mov cx, 4
    repe cmpsb
    FLAGS_EQ 0x040, 0x040, "repe cmpsb to the end: ZF=1"
    EXPECT16 cx, 0, "repe cmpsb to the end: CX=0"
    mov si, 0x800
    mov di, 0x801                          ; compare DS[i] with ES[i+1]: 10/20 20/30 30/41 40/50 ...
    mov cx, 7
    repne cmpsb
    FLAGS_EQ 0x040, 0x000, "repne cmpsb: no equal pair, CX runs out with ZF=0"
    EXPECT16 cx, 0, "repne cmpsb ran to CX=0"
    mov word [es:0x900], 0x1111
    mov word [es:0x902], 0x2222
    mov word [ds:0x900], 0x3333
    mov word [ds:0x902], 0x2222
    mov si, 0x900
    mov di, 0x900
    mov cx, 5
    repne cmpsw
    FLAGS_EQ 0x040, 0x040, "repne cmpsw stops on equality with ZF=1"
    EXPECT16 cx, 3, "repne cmpsw: CX"
    EXPECT16 si, 0x904, "repne cmpsw: SI"
    mov dword [ds:0x910], 0x80000000
    mov dword [es:0x910], 0x00000001
    mov si, 0x910
    mov di, 0x910
    cmpsd
    FLAGS_EQ 0x8D5, 0x814, "cmpsd 80000000 - 1: OF AF PF"
    mov si, 0x800
    mov di, 0x800
    xor cx, cx
    repe cmpsb
    EXPECT16 si, 0x800, "repe cmpsb with CX=0 does nothing"
    ; CMPS with a source override: FS:SI vs ES:DI
    mov byte [es:0x920], 0xF5
    mov si, 0x920
    mov di, 0x920
    fs cmpsb
    FLAGS_EQ 0x040, 0x040, "fs cmpsb compares FS:SI"

; ---- SCAS ---------------------------------------------------------------------------------
    ; ES:0A00 = "hello, world" 0
    mov dword [es:0xA00], 'hell'
    mov dword [es:0xA04], 'o, w'
    mov dword [es:0xA08], 'orld'
    mov byte [es:0xA0C], 0
    mov di, 0xA00
    mov al, ','
    mov cx, 0x40
    repne scasb
    FLAGS_EQ 0x040, 0x040, "repne scasb finds the byte: ZF=1"
    EXPECT16 di, 0xA06, "repne scasb: DI one past the match"
    EXPECT16 cx, 0x3A, "repne scasb: CX"
    mov di, 0xA00
    mov al, 'Q'
    mov cx, 13
    repne scasb
    FLAGS_EQ 0x040, 0x000, "repne scasb without a match: ZF=0"
    EXPECT16 cx, 0, "repne scasb without a match: CX=0"
    EXPECT16 di, 0xA0D, "repne scasb without a match: DI"
    mov di, 0xA02
    mov ax, 'll'
    mov cx, 4
    repe scasw
    FLAGS_EQ 0x040, 0x000, "repe scasw stops at the first mismatch"
    EXPECT16 cx, 2, "repe scasw: CX"
    EXPECT16 di, 0xA06, "repe scasw: DI"
    mov di, 0xA00
    mov eax, 'hell'
    scasd
    FLAGS_EQ 0x040, 0x040, "scasd equal"
    mov al, 0x10
    mov byte [es:0xA10], 0x20
    mov di, 0xA10
    scasb                                  ; AL - ES:[DI]
    FLAGS_EQ 0x8D5, 0x085, "scasb 10 - 20: CF SF PF"
    mov byte [ds:0xA10], 0x10
    mov di, 0xA10
    mov al, 0x20
    fs scasb                               ; override ignored: ES:DI
    FLAGS_EQ 0x040, 0x040, "fs scasb still scans ES:DI"
    std
    mov di, 0xA0B
    mov al, 'h'
    mov cx, 20
    repne scasb
    cld
    EXPECT16 di, 0x9FF, "repne scasb DF=1 finds the first byte, DI below it"
    EXPECT16 cx, 8, "repne scasb DF=1: CX"

; ---- 16-bit wrap of SI/DI -----------------------------------------------------------------
    mov byte [ds:0xFFFE], 0xE1
    mov byte [ds:0xFFFF], 0xE2
    mov byte [ds:0x0000], 0xE3
    mov byte [ds:0x0001], 0xE4
    mov si, 0xFFFE
    mov di, 0xB00
    mov cx, 4
    rep movsb
    EXPECT16 si, 0x0002, "rep movsb: SI wraps from FFFF to 0000"
    EXPECT32 [es:0xB00], 0xE4E3E2E1, "rep movsb across the SI wrap"
    mov di, 0xFFFF
    mov al, 0xD1
    mov cx, 2
    rep stosb
    EXPECT16 di, 0x0001, "rep stosb: DI wraps from FFFF to 0000"
    cmp byte [es:0xFFFF], 0xD1
    CHECK e, "stosb at DI=FFFF"
    cmp byte [es:0x0000], 0xD1
    CHECK e, "stosb after the wrap writes ES:0000"
    std
    xor si, si
    lodsb
    cld
    EXPECT16 si, 0xFFFF, "lodsb DF=1 at SI=0 wraps to FFFF"
    mov esi, 0x0001FFFF                    ; only SI is used with 16-bit addressing
    lodsb
    EXPECT32 esi, 0x00010000, "lodsb a16: ESI high half kept, SI wraps"

; ---- 32-bit address size -----------------------------------------------------------------
    mov ecx, 0x00010002                    ; a16: only CX counts
    mov di, 0xC00
    mov al, 0x5A
    rep stosb
    EXPECT32 ecx, 0x00010000, "a16 rep stosb counts CX only"
    EXPECT16 [es:0xC00], 0x5A5A, "a16 rep stosb stored 2 bytes"
    EXPECT16 [es:0xC02], 0x0000, "a16 rep stosb stored only 2 bytes"
    mov ecx, 0x00010000                    ; a32: ECX = 65536
    xor edi, edi
    mov al, 0x3C
    a32 rep stosb
    EXPECT32 ecx, 0, "a32 rep stosb counts ECX"
    EXPECT32 edi, 0x00010000, "a32 rep stosb advances EDI past 0xFFFF"
    cmp byte [es:0xFFFF], 0x3C
    CHECK e, "a32 rep stosb wrote the last byte"
    mov esi, 0x10
    mov edi, 0x20
    mov ecx, 3
    a32 rep movsb
    EXPECT32 esi, 0x13, "a32 rep movsb ESI"
    EXPECT32 edi, 0x23, "a32 rep movsb EDI"

    FINISH
