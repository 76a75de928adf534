// PHP's mail() through sendmail_path = HOME/bin/qmail-inject -H, as GreenArrow documents it.
import { join } from 'node:path'
import t from 'tap'
import { recordingServer } from '../packages/client/test/lib/recording-server.js'
import { requireClientBuild, runCommand, setupClientHome } from './lib/client-home.js'
import { referenceTool } from './lib/tools.js'

requireClientBuild()
const php = referenceTool('php', 'Debian php-cli')

t.test(
  'mail() delivers with the right recipients and headers; GREENARROW_MAILCLASS arrives as a header',
  { skip: php.skip },
  async t => {
    const srv = await recordingServer()
    t.teardown(srv.close)
    const home = t.testdir()
    await setupClientHome(home, [srv.server])
    const code = `
    $ok = mail("php@example.com, second@example.net", "from php", "hello from php\\n", "From: app@example.com\\r\\nCc: cc@example.org");
    $bounce = mail("third@example.com", "with -f", "body\\n", "From: app@example.com", "-fbounce@example.com");
    echo ($ok && $bounce) ? "sent" : "failed";
  `
    const r = await runCommand(
      php.path!,
      ['-n', '-d', `sendmail_path=${join(home, 'bin/qmail-inject')} -H`, '-r', code],
      {
        env: { GREENARROW_MAILCLASS: 'transactional' },
      },
    )
    t.same([r.status, r.stdout, r.stderr], [0, 'sent', ''])
    t.equal(srv.received.length, 2)
    const [first, second] = srv.received
    // Header recipients, each field right to left (qmail); the sender is anonymous@me.
    t.same(first!.recipients.map(String), ['second@example.net', 'php@example.com', 'cc@example.org'])
    t.equal(first!.sender.toString(), 'anonymous@client.example.com')
    const text = first!.message.toString('latin1')
    t.match(text, /^Date: .*\nMessage-ID: <.*@client\.example\.com>\n/)
    t.match(text, /^To: php@example\.com, second@example\.net$/m)
    t.match(
      text,
      /^Subject: from php\r$/m,
      'PHP wrote CR LF; qmail-inject keeps the CR of fields it does not rewrite',
    )
    t.match(text, /^From: app@example\.com$/m)
    t.match(text, /^X-GreenArrow-MailClass: transactional$/m)
    t.equal(
      text.slice(text.indexOf('\n\n')),
      '\n\n\r\nhello from php\n\r\n',
      'the CR LF separator line starts the body',
    )
    // mail()'s fifth argument is appended to the command: -f sets the envelope sender.
    t.equal(second!.sender.toString(), 'bounce@example.com')
    t.same(second!.recipients.map(String), ['third@example.com'])
  },
)
