import t from 'tap'
import { existsSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { chromium } from 'playwright-core'
import { send } from '@qmqpkit/qmqp'
import { startQmqpd } from '@qmqpkit/server/testing'
import { repoRoot } from './lib/tools.js'

// The web UI in a real browser: Debian's chromium, headless, driven by playwright-core.
const executablePath = process.env.CHROMIUM ?? '/usr/bin/chromium'
const missing = !existsSync(executablePath)
if (missing && process.env.CI)
  throw new Error(`${executablePath} not found: .ci/run must install Debian chromium`)

t.test(
  'a message sent by the client appears live; its view shows rule and environment',
  { skip: missing && 'install Debian chromium' },
  async t => {
    const srv = await startQmqpd({
      rules: '127.0.0.1:allow,QMQPD_NAMESPACE="ui",GREENARROW_MAILCLASS="welcome"\n',
    })
    t.teardown(() => srv.close())
    const browser = await chromium.launchPersistentContext(t.testdir(), {
      executablePath,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
      viewport: { width: 1280, height: 800 },
    })
    t.teardown(() => browser.close())
    const page = browser.pages()[0] ?? (await browser.newPage())
    const problems: string[] = []
    page.on('pageerror', err => problems.push(String(err)))
    page.on('console', msg => {
      if (msg.type() === 'error') problems.push(msg.text())
    })

    await page.goto(srv.apiUrl!)
    await page.waitForSelector('#empty:not([hidden])')
    // The page is listening for events before anything is sent.
    while (srv.inspection.events.listeners === 0) await new Promise(r => setTimeout(r, 20))

    const html = '<h1>Welcome!</h1><script>document.title="pwned"</script>'
    await send(
      {
        message:
          'From: shop@example.com\nTo: new@example.com\nSubject: Welcome to the shop\nMIME-Version: 1.0\n' +
          `Content-Type: text/html; charset=utf-8\n\n${html}\n`,
        sender: 'shop@example.com',
        recipients: ['new@example.com'],
      },
      { servers: [srv.server] },
    )
    const row = page.locator('#list tbody tr', { hasText: 'Welcome to the shop' })
    await row.waitFor()
    t.match(await row.textContent(), /ui.*K.*shop@example\.com.*new@example\.com/)

    // Keyboard: j selects the first row, Enter opens it.
    await page.keyboard.press('j')
    await page.keyboard.press('Enter')
    await page.locator('#view dd', { hasText: '127.0.0.1' }).first().waitFor()
    const overview = await page.locator('#view').innerText()
    t.match(overview, /matched rule\s+127\.0\.0\.1/)
    t.match(overview, /QMQPD_NAMESPACE=ui/)
    t.match(overview, /GREENARROW_MAILCLASS=welcome/)
    t.match(overview, /TCPREMOTEIP=127\.0\.0\.1/)
    t.match(overview, /mailClass\s+welcome/)

    mkdirSync(join(repoRoot, 'artifacts'), { recursive: true })
    await page.screenshot({ path: join(repoRoot, 'artifacts', 'ui.png') })

    // The HTML body is shown in a sandboxed frame: its script does not run.
    await page.keyboard.press('4')
    const frame = page.locator('iframe[sandbox=""]')
    await frame.waitFor()
    const inner = page.frameLocator('iframe[sandbox=""]')
    t.equal(await inner.locator('h1').textContent(), 'Welcome!')
    t.not(await page.title(), 'pwned')
    t.equal(
      await inner.locator('body').evaluate(body => body.ownerDocument.title),
      '',
      'the mail script did not run',
    )

    // Search narrows the list; a second message arrives live under the filter.
    await page.keyboard.press('Escape')
    await page.keyboard.press('/')
    await page.keyboard.type('subject:invoice')
    await page.locator('#list tbody tr').first().waitFor({ state: 'detached' })
    await send(
      {
        message: 'Subject: Your invoice\n\nPay.\n',
        sender: 'billing@example.com',
        recipients: ['new@example.com'],
      },
      { servers: [srv.server] },
    )
    await page.locator('#list tbody tr', { hasText: 'Your invoice' }).waitFor()
    t.equal(await page.locator('#list tbody tr').count(), 1)
    // Fault rules: add one from the panel, see it listed and applied.
    await page.keyboard.press('Escape')
    await page.keyboard.press('f')
    await page.fill('#fault-form input[name=match]', 'to:victim@')
    await page.selectOption('#fault-form select[name=kind]', 'reply:D')
    await page.fill('#fault-form input[name=text]', 'refused by the UI rule')
    await page.click('#fault-form button[type=submit]')
    await page.locator('#fault-list tbody tr', { hasText: 'victim@' }).waitFor()
    t.match(srv.faults.list(), [
      { match: { to: 'victim@' }, action: { reply: 'D', text: 'refused by the UI rule' } },
    ])
    const refused = await send(
      { message: 'Subject: refused\n\n', sender: 'a@example.com', recipients: ['victim@example.com'] },
      { servers: [srv.server] },
    )
    t.same(refused.verdict, { code: 'D', text: 'refused by the UI rule' })

    // Reset (after confirming): the list empties and the rule goes.
    page.once('dialog', dialog => void dialog.accept())
    await page.click('#reset-button')
    await page.waitForSelector('#empty:not([hidden])')
    t.same(await srv.messages(), [])
    t.same(srv.faults.list(), [])

    const blocked = problems.filter(p => /Blocked script execution .* sandboxed/.test(p))
    t.equal(blocked.length, 1, 'chromium refused the mail script')
    t.same(
      problems.filter(p => !blocked.includes(p)),
      [],
      'no other errors in the page',
    )
  },
)
