/** What `sendmail` does with its arguments, decided before anything runs. */
export type SendmailPlan =
  /** Run qmail-inject with these arguments (without argv[0]) and this environment. */
  | { action: 'inject'; args: Buffer[]; env: Map<string, Buffer> }
  /** `-bp` or called `mailq`: run `bin/qmail-qread`. */
  | { action: 'mailq' }
  /** `-bs`: run `bin/qmail-smtpd` with a loopback connection environment (unless PROTO is set). */
  | { action: 'smtpd'; env: Map<string, Buffer> }
  /** Print this and exit: usage errors (100), `newaliases` (100). */
  | { action: 'exit'; exitCode: number; stderr: string }

const USAGE = 'sendmail: usage: sendmail [ -t ] [ -fsender ] [ -Fname ] [ -bp ] [ -bs ] [ arg ... ]\n'
/** Options of qmail's sendmail.c (`vimte:f:p:o:B:F:EJxb:`); E and J drop the rest of their word. */
const WITH_VALUE = new Set('efpoBFb')
const FLAGS = new Set('vimtEJx')

/**
 * Translates sendmail's command line as qmail's `sendmail.c` does: `-H` when `-t` was given,
 * else `-a`; `-f SENDER` when given (the last wins); `--`; then the remaining words. `-F`
 * sets MAILNAME; `-f` (netqmail) removes QMAILNAME, MAILNAME, NAME, QMAILHOST and MAILHOST and
 * sets QMAILUSER and QMAILHOST from the sender, so a generated From is the sender and `-F` is
 * lost. `name` is the base name of argv[0] (`mailq`, `newaliases` change the behaviour).
 */
export function planSendmail(args: Buffer[], env: Map<string, Buffer>, name: string): SendmailPlan {
  const newEnv = new Map(env)
  let flagH = false
  let sender: Buffer | undefined
  let i = 0
  let bAction: 'mailq' | 'smtpd' | undefined
  const usage = (getoptLine = ''): SendmailPlan => ({
    action: 'exit',
    exitCode: 100,
    stderr: getoptLine + USAGE,
  })
  words: while (i < args.length) {
    const word = args[i]!
    if (word.length < 2 || word[0] !== 0x2d) break
    i++
    if (word.length === 2 && word[1] === 0x2d) break
    for (let pos = 1; pos < word.length; pos++) {
      const letter = String.fromCharCode(word[pos]!)
      if (FLAGS.has(letter)) {
        if (letter === 't') flagH = true
        // Sony NEWS-OS options: their optional value is the rest of the word.
        if (letter === 'E' || letter === 'J') continue words
        continue
      }
      if (!WITH_VALUE.has(letter)) return usage(`${name}: illegal option -- ${letter}\n`)
      let value: Buffer
      if (pos + 1 < word.length) value = word.subarray(pos + 1)
      else if (i < args.length) value = args[i++]!
      else return usage(`${name}: option requires an argument -- ${letter}\n`)
      if (letter === 'f') sender = value
      else if (letter === 'F') newEnv.set('MAILNAME', value)
      else if (letter === 'b') {
        // sendmail.c leaves the option loop at once for -bp and -bs; -bm is ignored.
        if (value[0] === 0x6d) continue words
        if (value[0] === 0x70) bAction = 'mailq'
        else if (value[0] === 0x73) bAction = 'smtpd'
        else return usage()
        break words
      }
      continue words
    }
  }
  if (bAction === 'mailq' || (bAction === undefined && name === 'mailq')) return { action: 'mailq' }
  if (bAction === 'smtpd') return { action: 'smtpd', env: smtpdEnv(env) }
  if (name === 'newaliases') {
    return {
      action: 'exit',
      exitCode: 100,
      stderr: 'sendmail: fatal: please use fastforward/newaliases instead\n',
    }
  }
  const injectArgs: Buffer[] = [Buffer.from(flagH ? '-H' : '-a')]
  if (sender !== undefined) {
    injectArgs.push(Buffer.from('-f'), sender)
    for (const v of ['QMAILNAME', 'MAILNAME', 'NAME', 'QMAILHOST', 'MAILHOST']) newEnv.delete(v)
    const at = sender.lastIndexOf(0x40)
    if (at >= 0) {
      newEnv.set('QMAILUSER', sender.subarray(0, at))
      newEnv.set('QMAILHOST', sender.subarray(at + 1))
    } else {
      newEnv.set('QMAILUSER', sender)
    }
  }
  injectArgs.push(Buffer.from('--'), ...args.slice(i))
  return { action: 'inject', args: injectArgs, env: newEnv }
}

/** sendmail.c's environment for `-bs` when it does not run under a TCP server already. */
function smtpdEnv(env: Map<string, Buffer>): Map<string, Buffer> {
  const out = new Map(env)
  if (env.has('PROTO')) return out
  const loopback: Record<string, string> = {
    RELAYCLIENT: '',
    DATABYTES: '0',
    PROTO: 'TCP',
    TCPLOCALIP: '127.0.0.1',
    TCPLOCALHOST: 'localhost',
    TCPREMOTEIP: '127.0.0.1',
    TCPREMOTEHOST: 'localhost',
    TCPREMOTEINFO: 'sendmail-bs',
  }
  for (const [k, v] of Object.entries(loopback)) out.set(k, Buffer.from(v))
  return out
}
