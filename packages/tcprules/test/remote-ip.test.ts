import t from 'tap'
import { formatIp6, remoteIpText } from '../src/remote-ip.js'

t.test('ip6_fmt as ucspi-tcp-ipv6 writes addresses', t => {
  // Observed from tcpserver of ucspi-tcp-ipv6 for peers bound to these addresses.
  const seen: Array<[number[], string]> = [
    [[0x2001, 0xdb8, 0, 1, 1, 1, 1, 1], '2001:db8::1:1:1:1:1'],
    [[0x2001, 0xdb8, 0, 0, 0xa, 0, 0, 1], '2001:db8::a:0:0:1'],
    [[1, 0, 0, 0, 0, 0, 0, 0], '1::'],
    [[0x2001, 0xdb8, 0, 0, 1, 0, 0, 1], '2001:db8::1:0:0:1'],
    [[0, 0, 0, 1, 0, 0, 0, 0], '0:0:0:1::'],
    [[0x2001, 0xdb8, 0xaa, 0, 0, 0xbb, 0, 0], '2001:db8:aa::bb:0:0'],
    [[0, 0, 0, 0, 0, 0, 0, 1], '::1'],
    [[0, 0, 0, 0, 0, 0, 0, 0], '::'],
    [[1, 2, 3, 4, 5, 6, 7, 8], '1:2:3:4:5:6:7:8'],
  ]
  for (const [parts, text] of seen) t.equal(formatIp6(parts), text)
  t.end()
})

t.test('peer addresses as tcpserver puts them in TCPREMOTEIP', t => {
  t.equal(remoteIpText('::ffff:127.0.0.5'), '127.0.0.5')
  t.equal(remoteIpText('2001:DB8:0:1:1:1:1:1'), '2001:db8::1:1:1:1:1')
  t.equal(remoteIpText('10.0.0.1'), '10.0.0.1')
  t.equal(remoteIpText('not:an:address'), 'not:an:address')
  t.end()
})
