@_exported import CofferCrypto
