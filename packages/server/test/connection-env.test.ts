import t from 'tap'
import {
  addressText,
  applyRuleEnv,
  connectionEnv,
  ip6Text,
  isIpv4,
  isLoopback,
} from '../src/connection-env.js'
import { envText } from './lib/harness.js'

t.test('addresses as tcpserver writes them', async t => {
  t.equal(addressText('::ffff:10.0.0.1'), '10.0.0.1', 'IPv4-mapped becomes IPv4, once, at accept')
  t.equal(
    addressText('2001:DB8:0:1:1:1:1:1'),
    '2001:db8::1:1:1:1:1',
    'a single zero group is compressed, as ip6_fmt does',
  )
  t.equal(addressText('fe80::1%eth0'), 'fe80::1')
  t.equal(ip6Text('::ffff:1.2.3.4'), '::ffff:1.2.3.4')
  t.equal(ip6Text('1:0:0:0:0:0:0:0'), '1::')
  t.ok(isIpv4('::ffff:127.0.0.1'))
  t.ok(isLoopback('127.9.9.9'))
  t.ok(isLoopback('::1'))
  t.ok(isLoopback('::ffff:127.0.0.1'))
  t.notOk(isLoopback('10.0.0.1'))
})

// The orders below were observed from Debian's tcpserver (ucspi-tcp and ucspi-tcp-ipv6 1:0.88-7).
t.test('ucspi-tcp environment, in its order', async t => {
  const e = connectionEnv(
    {
      remoteAddress: '::ffff:127.0.0.5',
      remotePort: 4000,
      localAddress: '127.0.0.1',
      localPort: 628,
      localHost: 'lh',
    },
    'ipv4',
  )
  t.equal(e.proto, 'TCP')
  t.same(envText(e.env), [
    ['PROTO', 'TCP'],
    ['TCPLOCALIP', '127.0.0.1'],
    ['TCPLOCALPORT', '628'],
    ['TCPLOCALHOST', 'lh'],
    ['TCPREMOTEIP', '127.0.0.5'],
    ['TCPREMOTEPORT', '4000'],
  ])
})

t.test('ucspi-tcp-ipv6 environment: TCP6 twins; PROTO=TCP6 only for native IPv6 peers', async t => {
  const v6 = connectionEnv(
    {
      remoteAddress: '::1',
      remotePort: 5,
      localAddress: '::1',
      localPort: 7771,
      localHost: 'lh',
      remoteHost: 'h',
      remoteInfo: 'joe',
    },
    'ipv6',
  )
  t.same(envText(v6.env), [
    ['PROTO', 'TCP6'],
    ['TCPLOCALIP', '::1'],
    ['TCP6LOCALIP', '::1'],
    ['TCPLOCALPORT', '7771'],
    ['TCP6LOCALPORT', '7771'],
    ['TCPLOCALHOST', 'lh'],
    ['TCP6LOCALHOST', 'lh'],
    ['TCPREMOTEIP', '::1'],
    ['TCP6REMOTEIP', '::1'],
    ['TCPREMOTEPORT', '5'],
    ['TCP6REMOTEPORT', '5'],
    ['TCPREMOTEHOST', 'h'],
    ['TCP6REMOTEHOST', 'h'],
    ['TCPREMOTEINFO', 'joe'],
    ['TCP6REMOTEINFO', 'joe'],
  ])
  const mapped = connectionEnv(
    {
      remoteAddress: '::ffff:127.0.0.1',
      remotePort: 56152,
      localAddress: '::ffff:127.0.0.1',
      localPort: 7772,
    },
    'ipv6',
  )
  t.same(envText(mapped.env), [
    ['PROTO', 'TCP'],
    ['TCPLOCALIP', '127.0.0.1'],
    ['TCP6LOCALIP', '::ffff:127.0.0.1'],
    ['TCPLOCALPORT', '7772'],
    ['TCP6LOCALPORT', '7772'],
    ['TCPREMOTEIP', '127.0.0.1'],
    ['TCP6REMOTEIP', '::ffff:127.0.0.1'],
    ['TCPREMOTEPORT', '56152'],
    ['TCP6REMOTEPORT', '56152'],
  ])
  t.equal(
    connectionEnv({ remoteAddress: '::1', remotePort: 1, localAddress: '::1', localPort: 2 }, 'ipv4').proto,
    'TCP',
    'the IPv4 tool knows no TCP6',
  )
})

t.test('rule variables follow in order; a name set again moves to the end with its last value', async t => {
  const base: Array<[string, Buffer]> = [
    ['PROTO', Buffer.from('TCP')],
    ['TCPLOCALHOST', Buffer.from('a')],
  ]
  const env = applyRuleEnv(base, [
    ['X', Buffer.from('1')],
    ['TCPLOCALHOST', Buffer.from('movie.edu')],
    ['X', Buffer.from('2')],
  ])
  t.same(envText(env), [
    ['PROTO', 'TCP'],
    ['TCPLOCALHOST', 'movie.edu'],
    ['X', '2'],
  ])
  t.equal(base.length, 2, 'base untouched')
})
