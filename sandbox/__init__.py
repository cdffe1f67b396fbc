"""The local sandbox: a whole federation on loopback (launcher, process supervision), the demo and its steps,
synthetic city data, and the verification test world. Nothing here runs in a real deployment."""
