import { execFileSync } from 'node:child_process'
import { QmqpdUserError } from './errors.js'

/** The numeric ids of a user, as `id` reports them (through NSS, so LDAP users work too). */
export function lookupUser(name: string): { uid: number; gid: number } {
  const id = (flag: string): number => {
    try {
      return Number(
        execFileSync('id', [flag, '--', name], {
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'ignore'],
        }).trim(),
      )
    } catch {
      throw new QmqpdUserError(name, `unknown user ${name}`)
    }
  }
  return { uid: id('-u'), gid: id('-g') }
}

/**
 * Becomes `name` for good, after the listeners are bound: its supplementary groups, its
 * primary group, then its uid (in that order: once the uid changes, groups cannot).
 */
export function dropPrivileges(name: string): { uid: number; gid: number } {
  const { uid, gid } = lookupUser(name)
  try {
    // initgroups is in Node on POSIX but missing from @types/node 20.
    ;(process as unknown as { initgroups(user: string, extra: number): void }).initgroups(name, gid)
    process.setgid!(gid)
    process.setuid!(uid)
  } catch (err) {
    throw new QmqpdUserError(name, `unable to become ${name}: ${(err as Error).message}`)
  }
  return { uid, gid }
}
