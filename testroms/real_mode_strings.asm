; real_mode_strings.asm - MOVS/STOS/LODS/CMPS/SCAS with REP/REPE/REPNE, DF, segment overrides,
; 16-bit SI/DI wrap and 32-bit address size in real mode.
%include "lib/real16.inc"
ROM_BEGIN
    mov ax, 0x1000
    mov es, ax                     ; ES = destination buffer segment
    mov ax, 0x2000
    mov ds, ax                     ; DS = source buffer segment (RAM)

    ; clear 0x1000:0000-00FF
    xor di, di
    xor ax, ax
    mov cx, 0x80
    rep stosw
    cmp di, 0x100
    CHECK "rep stosw advances DI by 2*CX"
    cmp cx, 0
    CHECK "rep stosw counts CX to 0"

    ; rep stosb 16 x AA
    xor di, di
    mov al, 0xaa
    mov cx, 16
    rep stosb
    cmp byte [es:15], 0xaa
    CHECK "rep stosb writes the last byte"
    cmp byte [es:16], 0
    CHECK "rep stosb stops after CX bytes"

    ; fill source 0x2000:0000 with 0,1,2,...
    push es
    push ds
    pop es
    xor di, di
    xor al, al
    mov cx, 64
fill:
    stosb
    inc al
    loop fill
    pop es

    ; rep movsw 8 words 2000:0000 -> 1000:0100
    xor si, si
    mov di, 0x100
    mov cx, 8
    rep movsw
    cmp word [es:0x10e], 0x0f0e
    CHECK "rep movsw copies the last word"
    cmp si, 16
    CHECK "rep movsw advances SI"

    ; backwards copy with DF=1
    std
    mov si, 9
    mov di, 0x209
    mov cx, 10
    rep movsb
    cld
    cmp byte [es:0x200], 0
    CHECK "std movsb copies down to the first byte"
    cmp byte [es:0x209], 9
    CHECK "std movsb first byte"
    cmp si, 0xffff
    CHECK "std movsb leaves SI below the block"

    ; repe cmpsb: buffers differ at index 5
    xor si, si
    mov di, 0x300
    mov cx, 16
    push cx
    rep movsb                      ; copy 2000:0000-000F to 1000:0300-030F
    pop cx
    mov byte [es:0x305], 0x77
    xor si, si
    mov di, 0x300
    repe cmpsb
    FLAGS_IS 0x040, 0
    CHECK "repe cmpsb stops on a difference with ZF=0"
    cmp cx, 10
    CHECK "repe cmpsb leaves CX = 16-6"
    cmp si, 6
    CHECK "repe cmpsb advances past the difference"

    ; repne scasb finds 0x03 at index 3 in 2000:0000 (ES = DS for this)
    push es
    push ds
    pop es
    xor di, di
    mov al, 3
    mov cx, 16
    repne scasb
    pop es
    FLAGS_IS 0x040, 0x040
    CHECK "repne scasb stops on a match with ZF=1"
    cmp di, 4
    CHECK "repne scasb DI after the match"
    cmp cx, 12
    CHECK "repne scasb CX"

    ; lodsw
    mov si, 4
    lodsw
    cmp ax, 0x0504
    CHECK "lodsw"
    cmp si, 6
    CHECK "lodsw advances SI"

    ; segment override on the source: CS
    mov si, pattern
    mov di, 0x400
    mov cx, 4
    cs rep movsb
    cmp dword [es:0x400], 0x44332211
    CHECK "cs: override on movs source"

    ; REP with CX=0 does nothing
    mov di, 0x500
    xor cx, cx
    mov al, 0x99
    rep stosb
    cmp di, 0x500
    CHECK "rep with CX=0 does nothing"

    ; 16-bit SI wraps at 0xFFFF for byte accesses
    mov si, 0xffff
    lodsb
    cmp si, 0
    CHECK "SI wraps to 0 after FFFF"

    ; 32-bit address size: EDI increments as 32 bits
    mov edi, 0x10
    mov al, 0x5a
    a32 stosb
    cmp edi, 0x11
    CHECK "a32 stosb uses EDI"
    cmp byte [es:0x10], 0x5a
    CHECK "a32 stosb stored"

    ; 32-bit operand size: stosd
    mov di, 0x600
    mov eax, 0xdeadbeef
    stosd
    cmp di, 0x604
    CHECK "stosd advances by 4"
    cmp dword [es:0x600], 0xdeadbeef
    CHECK "stosd stored"
ROM_END

pattern: db 0x11, 0x22, 0x33, 0x44

ROM_FOOTER
