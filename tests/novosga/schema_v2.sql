-- Novo SGA 2.x tables read by the connector, as in its published MySQL DDL (Doctrine schema of 2.x,
-- migrations/sql/v1__init.mysql.sql): same columns and types. The citizen is in `clientes`; statuses are
-- names; dt_fim is written on close. Foreign keys to tables the connector never reads are left out.

CREATE TABLE `clientes` (
    `id` int(11) NOT NULL AUTO_INCREMENT,
    `nome` varchar(60) COLLATE utf8mb4_unicode_ci NOT NULL,
    `documento` varchar(30) COLLATE utf8mb4_unicode_ci NOT NULL,
    `email` varchar(80) COLLATE utf8mb4_unicode_ci DEFAULT NULL,
    PRIMARY KEY (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE `unidades` (
    `id` int(11) NOT NULL AUTO_INCREMENT,
    `nome` varchar(50) COLLATE utf8mb4_unicode_ci NOT NULL,
    `descricao` varchar(250) COLLATE utf8mb4_unicode_ci NOT NULL,
    `ativo` tinyint(1) NOT NULL,
    `created_at` datetime NOT NULL DEFAULT CURRENT_TIMESTAMP,
    `updated_at` datetime DEFAULT NULL,
    `deleted_at` datetime DEFAULT NULL,
    `impressao_cabecalho` varchar(150) COLLATE utf8mb4_unicode_ci NOT NULL,
    `impressao_rodape` varchar(150) COLLATE utf8mb4_unicode_ci NOT NULL,
    `impressao_exibir_data` tinyint(1) NOT NULL,
    `impressao_exibir_prioridade` tinyint(1) NOT NULL,
    `impressao_exibir_nome_unidade` tinyint(1) NOT NULL,
    `impressao_exibir_nome_servico` tinyint(1) NOT NULL,
    `impressao_exibir_mensagem_servico` tinyint(1) NOT NULL,
    PRIMARY KEY (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE `servicos` (
    `id` int(11) NOT NULL AUTO_INCREMENT,
    `macro_id` int(11) DEFAULT NULL,
    `nome` varchar(50) COLLATE utf8mb4_unicode_ci NOT NULL,
    `descricao` varchar(250) COLLATE utf8mb4_unicode_ci NOT NULL,
    `ativo` tinyint(1) NOT NULL,
    `peso` smallint(6) NOT NULL,
    `created_at` datetime NOT NULL DEFAULT CURRENT_TIMESTAMP,
    `updated_at` datetime DEFAULT NULL,
    `deleted_at` datetime DEFAULT NULL,
    PRIMARY KEY (`id`),
    KEY `IDX_89DD09E3F43A187E` (`macro_id`),
    CONSTRAINT `FK_89DD09E3F43A187E` FOREIGN KEY (`macro_id`) REFERENCES `servicos` (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE `atendimentos` (
    `id` int(11) NOT NULL AUTO_INCREMENT,
    `cliente_id` int(11) DEFAULT NULL,
    `unidade_id` int(11) DEFAULT NULL,
    `servico_id` int(11) DEFAULT NULL,
    `prioridade_id` int(11) DEFAULT NULL,
    `usuario_id` int(11) DEFAULT NULL,
    `usuario_tri_id` int(11) DEFAULT NULL,
    `atendimento_id` int(11) DEFAULT NULL,
    `num_local` smallint(6) DEFAULT NULL,
    `dt_age` datetime DEFAULT NULL,
    `dt_cheg` datetime NOT NULL,
    `dt_cha` datetime DEFAULT NULL,
    `dt_ini` datetime DEFAULT NULL,
    `dt_fim` datetime DEFAULT NULL,
    `tempo_espera` int(11) DEFAULT NULL,
    `tempo_permanencia` int(11) DEFAULT NULL,
    `tempo_atendimento` int(11) DEFAULT NULL,
    `tempo_deslocamento` int(11) DEFAULT NULL,
    `status` varchar(25) COLLATE utf8mb4_unicode_ci NOT NULL,
    `resolucao` varchar(25) COLLATE utf8mb4_unicode_ci DEFAULT NULL,
    `observacao` longtext COLLATE utf8mb4_unicode_ci,
    `senha_sigla` varchar(3) COLLATE utf8mb4_unicode_ci NOT NULL,
    `senha_numero` int(11) NOT NULL,
    PRIMARY KEY (`id`),
    KEY `IDX_29E906E7DE734E51` (`cliente_id`),
    KEY `IDX_29E906E7EDF4B99B` (`unidade_id`),
    KEY `IDX_29E906E782E14982` (`servico_id`),
    KEY `IDX_29E906E776323123` (`atendimento_id`),
    CONSTRAINT `FK_29E906E7DE734E51` FOREIGN KEY (`cliente_id`) REFERENCES `clientes` (`id`),
    CONSTRAINT `FK_29E906E7EDF4B99B` FOREIGN KEY (`unidade_id`) REFERENCES `unidades` (`id`),
    CONSTRAINT `FK_29E906E782E14982` FOREIGN KEY (`servico_id`) REFERENCES `servicos` (`id`),
    CONSTRAINT `FK_29E906E776323123` FOREIGN KEY (`atendimento_id`) REFERENCES `atendimentos` (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE `historico_atendimentos` (
    `id` int(11) NOT NULL AUTO_INCREMENT,
    `cliente_id` int(11) DEFAULT NULL,
    `unidade_id` int(11) DEFAULT NULL,
    `servico_id` int(11) DEFAULT NULL,
    `prioridade_id` int(11) DEFAULT NULL,
    `usuario_id` int(11) DEFAULT NULL,
    `usuario_tri_id` int(11) DEFAULT NULL,
    `atendimento_id` int(11) DEFAULT NULL,
    `num_local` smallint(6) DEFAULT NULL,
    `dt_age` datetime DEFAULT NULL,
    `dt_cheg` datetime NOT NULL,
    `dt_cha` datetime DEFAULT NULL,
    `dt_ini` datetime DEFAULT NULL,
    `dt_fim` datetime DEFAULT NULL,
    `tempo_espera` int(11) DEFAULT NULL,
    `tempo_permanencia` int(11) DEFAULT NULL,
    `tempo_atendimento` int(11) DEFAULT NULL,
    `tempo_deslocamento` int(11) DEFAULT NULL,
    `status` varchar(25) COLLATE utf8mb4_unicode_ci NOT NULL,
    `resolucao` varchar(25) COLLATE utf8mb4_unicode_ci DEFAULT NULL,
    `observacao` longtext COLLATE utf8mb4_unicode_ci,
    `senha_sigla` varchar(3) COLLATE utf8mb4_unicode_ci NOT NULL,
    `senha_numero` int(11) NOT NULL,
    PRIMARY KEY (`id`),
    KEY `IDX_CBBDF95FDE734E51` (`cliente_id`),
    KEY `IDX_CBBDF95FEDF4B99B` (`unidade_id`),
    KEY `IDX_CBBDF95F82E14982` (`servico_id`),
    KEY `IDX_CBBDF95F76323123` (`atendimento_id`),
    CONSTRAINT `FK_CBBDF95FDE734E51` FOREIGN KEY (`cliente_id`) REFERENCES `clientes` (`id`),
    CONSTRAINT `FK_CBBDF95FEDF4B99B` FOREIGN KEY (`unidade_id`) REFERENCES `unidades` (`id`),
    CONSTRAINT `FK_CBBDF95F82E14982` FOREIGN KEY (`servico_id`) REFERENCES `servicos` (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE VIEW view_atendimentos AS
    SELECT id, cliente_id, unidade_id, servico_id, prioridade_id, usuario_id, usuario_tri_id, atendimento_id,
           num_local, dt_age, dt_cheg, dt_cha, dt_ini, dt_fim, tempo_espera, tempo_permanencia, tempo_atendimento,
           tempo_deslocamento, status, resolucao, observacao, senha_sigla, senha_numero
    FROM atendimentos
    UNION ALL
    SELECT id, cliente_id, unidade_id, servico_id, prioridade_id, usuario_id, usuario_tri_id, atendimento_id,
           num_local, dt_age, dt_cheg, dt_cha, dt_ini, dt_fim, tempo_espera, tempo_permanencia, tempo_atendimento,
           tempo_deslocamento, status, resolucao, observacao, senha_sigla, senha_numero
    FROM historico_atendimentos;
