// The floor of any Node QMQP server: reads one request per connection straight off the socket,
// counting bytes against the outer netstring's length, answers K and closes. No parsing beyond
// that, no spooling, no storage. Prints `listening PORT`.
import net from 'node:net'

const reply = Buffer.from('3:Kok,')

const server = net.createServer(socket => {
  let length = -1
  let digits = 0
  let left = 0
  socket.on('data', (chunk: Buffer) => {
    let i = 0
    if (length < 0) {
      for (; i < chunk.length; i++) {
        const c = chunk[i]!
        if (c === 0x3a) {
          length = digits
          left = length + 1 // the payload and its closing comma
          i++
          break
        }
        if (c < 0x30 || c > 0x39) return socket.destroy()
        digits = digits * 10 + (c - 0x30)
      }
      if (length < 0) return
    }
    left -= chunk.length - i
    if (left <= 0) socket.end(reply)
  })
  socket.on('error', () => {})
})
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`listening ${(server.address() as net.AddressInfo).port}\n`)
})
