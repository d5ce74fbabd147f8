/**
 * A list of addresses and CIDR ranges (`192.0.2.1`, `10.0.0.0/8`, `2001:db8::/32`), as the
 * configuration names them (MFT_DEFENDER_ALLOW, MFT_TRUSTED_PROXIES); an IPv4 client seen as
 * an IPv4-mapped IPv6 address (`::ffff:192.0.2.1`) matches its IPv4 entry.
 */
import { BlockList, isIPv4, isIPv6 } from 'node:net';

export class AddressList {
  private readonly list = new BlockList();

  constructor(entries: readonly string[]) {
    for (const entry of entries) {
      const [address = '', prefix] = entry.split('/');
      const type = isIPv6(address) ? 'ipv6' : 'ipv4';
      if (prefix === undefined) this.list.addAddress(address, type);
      else this.list.addSubnet(address, Number(prefix), type);
    }
  }

  has(address: string): boolean {
    const plain = address.startsWith('::ffff:') ? address.slice(7) : address;
    if (isIPv4(plain)) return this.list.check(plain, 'ipv4');
    return isIPv6(plain) && this.list.check(plain, 'ipv6');
  }
}
