#if canImport(Glibc)
import Glibc
#endif

/// The host side of the guest's serial console: stdout for output, stdin (raw mode when it
/// is a terminal) for input, with QEMU's escape keys: Ctrl-A X quits, Ctrl-A C is reserved
/// for a monitor, Ctrl-A Ctrl-A sends one Ctrl-A to the guest.
final class HostConsole {
    private var saved = termios()
    private var rawMode = false
    private var escape = false
    private var inputOpen: Bool
    private var queue: [UInt8] = []
    private var queueHead = 0
    /// Set when the user typed Ctrl-A X.
    private(set) var quitRequested = false

    init(readInput: Bool) {
        inputOpen = readInput
        guard readInput, isatty(0) != 0, tcgetattr(0, &saved) == 0 else { return }
        var t = saved
        cfmakeraw(&t)
        t.c_oflag |= tcflag_t(OPOST | ONLCR)   // keep "\n" → "\r\n" for our own messages
        if tcsetattr(0, TCSANOW, &t) == 0 {
            rawMode = true
            HostConsole.restoreState = saved
            atexit { HostConsole.restore() }
            for sig in [SIGINT, SIGTERM, SIGHUP, SIGQUIT] {
                signal(sig) { s in HostConsole.restore(); signal(s, SIG_DFL); raise(s) }
            }
        }
    }

    nonisolated(unsafe) static var restoreState: termios?
    static func restore() {
        if var t = restoreState { tcsetattr(0, TCSANOW, &t); restoreState = nil }
    }

    deinit { HostConsole.restore() }

    /// Reads whatever stdin has (never blocks) and hands bytes to `deliver` while `canTake`.
    func pump(canTake: () -> Bool, deliver: (UInt8) -> Void) {
        if inputOpen {
            var p = pollfd(fd: 0, events: Int16(POLLIN), revents: 0)
            if poll(&p, 1, 0) > 0 {
                var buf = [UInt8](repeating: 0, count: 256)
                let n = read(0, &buf, buf.count)
                if n <= 0 { inputOpen = false } else {
                    for b in buf[0..<n] { filter(b) }
                }
            }
        }
        while queueHead < queue.count && canTake() {
            deliver(queue[queueHead])
            queueHead += 1
        }
        if queueHead == queue.count { queue.removeAll(keepingCapacity: true); queueHead = 0 }
    }

    private func filter(_ b: UInt8) {
        if escape {
            escape = false
            switch b {
            case UInt8(ascii: "x"), UInt8(ascii: "X"): quitRequested = true
            case 0x01: queue.append(0x01)
            case UInt8(ascii: "c"), UInt8(ascii: "C"):
                message("emu: the monitor (Ctrl-A C) is not available yet")
            case UInt8(ascii: "h"), UInt8(ascii: "H"):
                message("emu: Ctrl-A X quit, Ctrl-A Ctrl-A send Ctrl-A, Ctrl-A C monitor (reserved)")
            default: break
            }
            return
        }
        if b == 0x01 && rawMode { escape = true; return }
        queue.append(b)
    }

    private func message(_ s: String) {
        let t = "\r\n" + s + "\r\n"
        _ = t.withCString { write(2, $0, strlen($0)) }
    }
}
