/* The default policy file, embedded in egressd (maps/default.policy). */
	.section .rodata
	.global egress_default_policy
	.type egress_default_policy, @object
egress_default_policy:
	.incbin "maps/default.policy"
	.byte 0
	.size egress_default_policy, . - egress_default_policy
	.section .note.GNU-stack,"",@progbits
